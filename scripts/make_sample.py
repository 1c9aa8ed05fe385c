#!/usr/bin/env python3
"""Cuts data/sample/online_retail_sample.csv from the full UCI Online Retail file.

Keeps every row whose CustomerID is a multiple of 10 and one in 40 of the rows
without a customer id (chosen by a CRC of the invoice number). Not needed to
build or run aisle; kept to document how the sample was made.
Usage: scripts/make_sample.py ../shared/data/online-retail/online_retail.csv
"""
import csv
import sys
import zlib

src = sys.argv[1]
with open(src, newline="", encoding="utf-8") as f, \
        open("data/sample/online_retail_sample.csv", "w", newline="", encoding="utf-8") as out:
    w = csv.writer(out, lineterminator="\n")
    for i, row in enumerate(csv.reader(f)):
        cid = row[6] if i else ""
        if i == 0 or (cid and int(float(cid)) % 10 == 0) or \
                (not cid and zlib.crc32(row[0].encode()) % 40 == 0):
            w.writerow(row)
