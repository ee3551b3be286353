#include "boxlite-error.h"

G_DEFINE_QUARK (boxlite-error-quark, boxlite_error)
