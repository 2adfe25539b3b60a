// Fitting the process's open-file limit to the connections it will hold.
//
// libwebsockets sizes a table by that limit, and Debian's build (compiled with _DEBUG) scans the
// whole table for every new connection: with a container's limit of a million, each accept would
// scan 8 MB. So both the server and the load generator set the limit to what they need, no more.
#pragma once

#include <sys/resource.h>

namespace switchboard::server {

// Sets the soft limit on open files to `wanted` (raising the hard limit too when allowed).
// Returns the soft limit now in force: `wanted`, or the hard limit when only a privileged process
// could go above it.
rlim_t FitOpenFileLimit(rlim_t wanted);

}  // namespace switchboard::server
