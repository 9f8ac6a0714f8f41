#include "segment/base/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

namespace sluice::base {

void LowerThisThreadPriority() {
  // PRIO_PROCESS with a thread id applies to that thread only (Linux; see setpriority(2), BUGS).
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
}

}  // namespace sluice::base
