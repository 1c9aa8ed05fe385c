// The command-line flags that describe a synthetic store (data/synthetic.h),
// shared by aisle-synth, which writes its history, and aisle-sim, which
// visits a server with the same customers and tastes: the same flags and
// seed give the same store.
#pragma once

#include "data/synthetic.h"

namespace aisle {

SyntheticOptions SyntheticOptionsFromFlags();

}  // namespace aisle
