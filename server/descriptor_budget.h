// How the process's open-file limit is shared out, so that it is never reached.
//
// At the limit, accept() fails with EMFILE while the listening socket stays readable, and
// libwebsockets retries it at once, forever: a core spent, a log line per try, /healthz unanswered.
// So the limit must never be met. Sockets are refused by their descriptor number as they are
// accepted: descriptors are handed out lowest first, so a socket numbered n means n descriptors
// below it are open. Public sockets stop at `public_ceiling`, admin sockets (the probes) a little
// above, and the rest is kept for Redis links and files. Below that, WebSocket sessions stop at
// `max_sessions`, with room left for handshakes in progress, so that a client past it gets a 503
// rather than a dropped socket.
//
// Pure: the limit is passed in.
#pragma once

#include <cstdint>

namespace switchboard::server {

struct DescriptorBudget {
  int64_t max_sessions;    // --max-connections, lowered to fit
  int64_t public_ceiling;  // a public socket numbered this or higher is closed at once
  int64_t admin_ceiling;   // the same for the admin port's sockets
};

// The budget for an open-file limit of `open_file_limit` and --max-connections
// `max_connections`. Each field is at least 1.
DescriptorBudget BudgetDescriptors(int64_t open_file_limit, int64_t max_connections);

// Descriptors wanted for `max_connections` sessions, the inverse of BudgetDescriptors: the
// open-file limit to ask for.
int64_t DescriptorsFor(int64_t max_connections);

}  // namespace switchboard::server
