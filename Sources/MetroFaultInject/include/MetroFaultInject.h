// The fault-injection library has no API to call: it replaces libc's fsync,
// fdatasync, pwrite and open when preloaded (LD_PRELOAD) into a `metro`
// process; faultinject.c says which flag file switches which fault. This
// header exists because SwiftPM wants a public include folder for a C target.
#ifndef METRO_FAULT_INJECT_H
#define METRO_FAULT_INJECT_H
#endif
