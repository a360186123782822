// The C surface of libzmq that Swift sees. Function-like macros do not import
// into Swift, so the few we need are wrapped as static inline functions here.
#ifndef METRO_CZEROMQ_SHIM_H
#define METRO_CZEROMQ_SHIM_H

#include <zmq.h>
#include <errno.h>

static inline int metro_zmq_version_number(void) { return ZMQ_VERSION; }

#endif
