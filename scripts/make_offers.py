#!/usr/bin/env python3
"""Builds data/offers/online_retail_offers.json, the example offer catalog for
the UCI Online Retail data: one offer per product theme, a theme being the
stock codes whose most frequent description contains one of its keywords (the
data set has no categories). A few offers carry the catalog's other features:
a validity window, country eligibility, a new-customer offer, impression caps
and value weights. Not needed to build or run aisle; kept to document how the
file was made.
Usage: scripts/make_offers.py ../shared/data/online-retail/online_retail.csv
"""
import collections
import csv
import json
import re
import sys

# (id, title, keywords, discount, extra fields)
THEMES = [
    ("christmas", "Christmas decorations: 15% off", ["CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER"],
     {"percent": 15}, {"valid_from": "2011-09-01", "valid_until": "2012-01-01"}),
    ("hearts", "Heart-themed gifts: 10% off", ["HEART", "HEARTS"], {"percent": 10}, {}),
    ("jumbo-bags", "Jumbo bags: 3 for the price of 2", ["JUMBO"], {"percent": 33}, {}),
    ("lunch", "Lunch bags and boxes: 10% off", ["LUNCH"], {"percent": 10}, {}),
    ("candles", "Candles and T-light holders: 10% off", ["CANDLE", "CANDLES", "T-LIGHT", "TEALIGHT"],
     {"percent": 10}, {}),
    ("tea-time", "Mugs, cups and teatime: 10% off", ["MUG", "MUGS", "CUP", "CUPS", "TEACUP", "SAUCER", "TEAPOT"],
     {"percent": 10}, {}),
    ("cards-wrap", "Cards and gift wrap: 2 GBP off", ["CARD", "CARDS", "WRAP", "ENVELOPE", "ENVELOPES"],
     {"amount": 2, "currency": "GBP"}, {}),
    ("baking", "Baking and cake cases: 15% off", ["CAKE", "BAKING", "CUPCAKE", "CASES"], {"percent": 15}, {}),
    ("garden", "Garden: 10% off", ["GARDEN", "PLANT", "WATERING", "PLANTER"], {"percent": 10}, {}),
    ("children", "For children: 10% off", ["CHILDRENS", "CHILDREN'S", "KIDS", "SPACEBOY", "DINOSAUR", "DOLLY",
                                              "TOY"], {"percent": 10}, {}),
    ("retrospot", "The red Retrospot range: 15% off", ["RETROSPOT"], {"percent": 15}, {}),
    ("vintage", "Vintage range: 10% off", ["VINTAGE"], {"percent": 10}, {}),
    ("kitchen", "Kitchen: 10% off", ["KITCHEN", "SPOON", "SPOONS", "APRON", "TOWEL", "TOWELS", "JAM", "OVEN"],
     {"percent": 10}, {}),
    ("clocks", "Clocks: 5 GBP off", ["CLOCK"], {"amount": 5, "currency": "GBP"}, {"weight": 1.2}),
    ("frames-signs", "Frames and signs: 10% off", ["FRAME", "SIGN", "PLAQUE"], {"percent": 10}, {}),
    ("lights", "Lights and lanterns: 10% off", ["LIGHTS", "LANTERN", "LAMP", "LIGHT"], {"percent": 10}, {}),
    ("jewellery", "Jewellery: 20% off", ["NECKLACE", "BRACELET", "EARRINGS", "DIAMANTE", "CHARM"],
     {"percent": 20}, {"max_impressions_per_customer": 5}),
    ("party", "Party: 10% off", ["PARTY", "BUNTING", "BALLOON", "BALLOONS", "NAPKINS", "PLATES", "PAPER CHAIN"],
     {"percent": 10}, {}),
    ("storage", "Boxes, tins and storage: 10% off", ["BOX", "TIN", "TINS", "STORAGE", "BASKET", "JAR"],
     {"percent": 10}, {}),
    ("stationery", "Stationery: 10% off", ["PENCIL", "PENCILS", "PEN", "NOTEBOOK", "STICKER", "STICKERS",
                                            "ERASER", "RULER"], {"percent": 10}, {}),
    ("home", "Cushions, doormats and hooks: 10% off", ["CUSHION", "DOORMAT", "HOOK", "HOOKS", "COAT RACK"],
     {"percent": 10}, {}),
    ("easter", "Easter: 15% off", ["EASTER", "EGG", "EGGS", "CHICK"], {"percent": 15},
     {"valid_from": "2011-02-01", "valid_until": "2011-05-01"}),
    ("regency-paisley", "Regency and Paisley ranges: 10% off", ["REGENCY", "PAISLEY"], {"percent": 10}, {}),
    ("picnic", "Picnic and outdoors: 10% off", ["PICNIC", "BEACH", "UMBRELLA"], {"percent": 10}, {}),
    ("birds-animals", "Birds and animals: 10% off", ["BIRD", "BIRDS", "OWL", "CAT", "DOG", "RABBIT"],
     {"percent": 10}, {}),
    ("bathroom", "Bathroom: 10% off", ["BATHROOM", "SOAP", "TOILET"], {"percent": 10}, {}),
    ("hanging", "Hanging decorations: 10% off", ["HANGING"], {"percent": 10}, {}),
    ("wooden", "Wooden gifts: 10% off", ["WOODEN", "WOOD"], {"percent": 10}, {}),
    ("glass", "Glass: 10% off", ["GLASS"], {"percent": 10}, {}),
    ("pink", "Pink gifts: 10% off", ["PINK"], {"percent": 10}, {}),
    ("blue", "Blue gifts: 10% off", ["BLUE"], {"percent": 10}, {}),
    ("uk-gifts", "Free UK delivery on gift sets", ["SET"], {"amount": 5, "currency": "GBP"},
     {"eligibility": {"countries": ["United Kingdom"]}}),
    ("europe-gifts", "Gift sets for Europe: 10% off shipping", ["SET"], {"percent": 10},
     {"eligibility": {"countries": ["Belgium", "EIRE", "France", "Germany", "Netherlands", "Portugal", "Spain",
                                    "Switzerland"]}}),
]


def main():
    src = sys.argv[1]
    descs = collections.defaultdict(collections.Counter)
    buyers = collections.defaultdict(set)
    with open(src, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        for row in r:
            code, desc, cid = row["StockCode"], row["Description"].strip().upper(), row["CustomerID"]
            if desc:
                descs[code][desc] += 1
            if cid and not row["InvoiceNo"].startswith("C"):
                buyers[code].add(cid)
    name = {code: c.most_common(1)[0][0] for code, c in descs.items()}
    offers = []
    for oid, title, keywords, discount, extra in THEMES:
        pat = re.compile(r"(?<![A-Z])(" + "|".join(re.escape(k) for k in keywords) + r")(?![A-Z])")
        products = sorted(code for code, d in name.items() if pat.search(d) and code in buyers)
        o = {"id": oid, "title": title, "products": products, "discount": discount}
        o.update(extra)
        offers.append(o)
    # New customers: the 40 products most customers bought.
    top = sorted(buyers, key=lambda c: (-len(buyers[c]), c))[:40]
    offers.append({"id": "welcome", "title": "Welcome: 10% off your first order of our best sellers",
                   "products": sorted(top), "discount": {"percent": 10},
                   "eligibility": {"new_customers_only": True}, "max_impressions_per_customer": 3})
    doc = {
        "description": "Example offers for the UCI Online Retail data (CC BY 4.0), made by scripts/make_offers.py: "
                       "one offer per product theme found in the product descriptions.",
        "version": "online-retail-1",
        "repurchasable_products": [],
        "offers": offers,
    }
    with open("data/offers/online_retail_offers.json", "w", encoding="utf-8") as out:
        json.dump(doc, out, indent=1)
        out.write("\n")
    for o in offers:
        print(f"{o['id']:16s} {len(o['products']):5d} products")


main()
