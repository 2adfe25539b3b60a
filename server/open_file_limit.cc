#include "server/open_file_limit.h"

namespace switchboard::server {

rlim_t FitOpenFileLimit(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  rlimit fitted = limit;
  fitted.rlim_cur = wanted;
  if (wanted > limit.rlim_max) {
    fitted.rlim_max = wanted;
    if (setrlimit(RLIMIT_NOFILE, &fitted) == 0) return wanted;
    fitted.rlim_cur = fitted.rlim_max = limit.rlim_max;  // only a privileged process may raise it
  }
  return setrlimit(RLIMIT_NOFILE, &fitted) == 0 ? fitted.rlim_cur : limit.rlim_cur;
}

}  // namespace switchboard::server
