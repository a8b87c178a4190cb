// The worker the ProcessPool tests start: it serves `TestJobs` and exits.
// Kept synchronous (no tasks, no loop), so the worker's descriptors are
// exactly what the pool gave it.
import Glibc
import RingLoop

ProcessPool.runWorkerIfRequested(serving: TestJobs.all)
print("ringloop-test-worker: start me from a ProcessPool")
exit(2)
