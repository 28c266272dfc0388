// ecdock native addon: network-namespace handles and NETLINK_ROUTE transactions.
//
// The one dangerous thing here is setns(2): it switches the *calling thread*, and every thread
// that thread creates afterwards inherits the switch. If the JS thread or a libuv pool thread were
// switched, later fs / dns.lookup work of the whole process could run in a container's network.
// So: no thread that runs JavaScript or libuv work ever calls setns. A throwaway std::thread enters
// the target namespace, opens a netlink socket there and exits; the socket keeps its namespace for
// life and is used from our own worker threads (never the libuv pool, never switched).
//
// Everything else (message encoding, decoding, validation, error mapping) lives in TypeScript
// (src/netlink/); this file only frames the byte stream: it reads the nlmsghdr of each request to
// learn its seq, and each reply's to know when every request has been answered.
//
// One request kind never reaches the kernel as a message: kLocalEthtool ("set one ethtool value
// of link N"). The worker runs it as a SIOCETHTOOL ioctl on the same socket (an ioctl acts in the
// socket's namespace, like its messages) and answers it with an ack of its own, so a batch can mix
// it with rtnetlink requests in order, on the one socket that is already inside the namespace.

#include <napi.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

namespace {

constexpr size_t kMaxChunkBytes = 64 * 1024;  // well under the default 208 KiB sndbuf
constexpr int kRcvBuf = 8 << 20;             // acks and echoes of a whole chunk must fit
constexpr int kPollSliceMs = 100;            // how often a waiting worker checks for shutdown

// A request the worker answers itself (see the header): payload u32 ifindex, u32 cmd, u32 value.
constexpr uint16_t kLocalEthtool = 0xEC01;

std::atomic<long> g_sockets_open{0};
std::atomic<long> g_factory_threads{0};

// ---- owned descriptors ------------------------------------------------------------------------

struct PlainClose {
  static void Close(int fd) { close(fd); }
};
struct SocketClose {  // netlink sockets are counted (stats().socketsOpen)
  static void Close(int fd) {
    if (close(fd) == 0) g_sockets_open--;
  }
};

// One descriptor with one owner: closed when the owner goes, whatever path it leaves by.
template <class Closer>
class BasicFd {
 public:
  BasicFd() = default;
  explicit BasicFd(int fd) : fd_(fd) {}
  ~BasicFd() { reset(); }
  BasicFd(BasicFd&& o) noexcept : fd_(o.release()) {}
  BasicFd& operator=(BasicFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  BasicFd(const BasicFd&) = delete;
  BasicFd& operator=(const BasicFd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives the descriptor up without closing it (to JS, or to another owner).
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) Closer::Close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

using UniqueFd = BasicFd<PlainClose>;
using SocketFd = BasicFd<SocketClose>;

// ---- errors ---------------------------------------------------------------------------------

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what = "") {
  char buf[128];
  const char* text = strerror_r(err, buf, sizeof buf);
  std::string msg = std::string(syscall) + (what.empty() ? "" : " " + what) + ": " + text;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// ---- netlink sockets --------------------------------------------------------------------------

// Configures and binds a fresh NETLINK_ROUTE socket; an empty SocketFd (and `fd` closed) on failure.
SocketFd PrepareSocket(UniqueFd fd, int* err, const char** syscall) {
  int one = 1;
  // Extended acks (kernel message + offending attribute), capped acks (no echo of our request),
  // strict checking of dump requests (kernel-side filters). Failures of the optional ones are ignored.
  setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  int rcv = kRcvBuf;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_nl sa {};
  sa.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) {
    *err = errno;
    *syscall = "bind";
    return SocketFd();
  }
  g_sockets_open++;
  return SocketFd(fd.release());
}

// Opens a NETLINK_ROUTE socket in the network namespace `nsfd` (or, with nsfd < 0, in the namespace
// of the calling worker, which is the one the process's JS thread was in when the worker started).
SocketFd OpenRouteSocket(int nsfd, int* err, const char** syscall) {
  if (nsfd < 0) {
    UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) {
      *err = errno;
      *syscall = "socket";
      return SocketFd();
    }
    return PrepareSocket(std::move(fd), err, syscall);
  }
  int fd = -1;
  int terr = 0;
  const char* tsys = nullptr;
  try {
    // The socket factory: this thread is the only one that ever calls setns. It creates nothing,
    // touches no JS or libuv state, never switches back, and exits here; the kernel task (and its
    // namespace membership) dies with it. It inherits our blocked signal mask.
    std::thread factory([&fd, &terr, &tsys, nsfd] {
      if (setns(nsfd, CLONE_NEWNET) != 0) {
        terr = errno;
        tsys = "setns";
        return;
      }
      fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
      if (fd < 0) {
        terr = errno;
        tsys = "socket";
      }
    });
    factory.join();
    g_factory_threads++;
  } catch (const std::system_error& e) {
    *err = e.code().value() ? e.code().value() : EAGAIN;
    *syscall = "pthread_create";
    return SocketFd();
  }
  if (fd < 0) {
    *err = terr;
    *syscall = tsys;
    return SocketFd();
  }
  return PrepareSocket(UniqueFd(fd), err, syscall);
}

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// ---- local requests -------------------------------------------------------------------------------

// Only "set one value" commands that take struct ethtool_value: nothing that reads or writes more.
bool EthtoolSetAllowed(uint32_t cmd) {
  switch (cmd) {
    case ETHTOOL_SRXCSUM:
    case ETHTOOL_STXCSUM:
    case ETHTOOL_SSG:
    case ETHTOOL_STSO:
    case ETHTOOL_SGSO:
    case ETHTOOL_SGRO:
      return true;
    default:
      return false;
  }
}

// Runs a kLocalEthtool request on `fd`'s namespace; returns 0 or a positive errno.
int RunLocalEthtool(int fd, const uint8_t* payload, size_t len) {
  if (len < 12) return EINVAL;
  uint32_t v[3];
  memcpy(v, payload, sizeof v);
  if (!EthtoolSetAllowed(v[1])) return EINVAL;
  struct ifreq ifr {};
  ifr.ifr_ifindex = int(v[0]);
  if (ioctl(fd, SIOCGIFNAME, &ifr) != 0) return errno;  // the name, in the socket's namespace
  struct ethtool_value ev {};
  ev.cmd = v[1];
  ev.data = v[2];
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) return errno;
  return 0;
}

// Appends the ack the kernel would have sent: NLMSG_ERROR, capped, with the request's header.
void AppendAck(std::vector<uint8_t>& out, const nlmsghdr& req, int err) {
  nlmsghdr h {};
  h.nlmsg_len = sizeof(nlmsghdr) + sizeof(nlmsgerr);
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_flags = NLM_F_CAPPED;
  h.nlmsg_seq = req.nlmsg_seq;
  nlmsgerr e {};
  e.error = -err;
  e.msg = req;
  const uint8_t* hp = reinterpret_cast<const uint8_t*>(&h);
  const uint8_t* ep = reinterpret_cast<const uint8_t*>(&e);
  out.insert(out.end(), hp, hp + sizeof h);
  out.insert(out.end(), ep, ep + sizeof e);
  out.resize(NLMSG_ALIGN(out.size()), 0);
}

// ---- jobs and the worker pool -------------------------------------------------------------------

// Owned by exactly one place at a time: Transact, the queue, a worker, the completion queue, Deliver.
// Whatever path it leaves by, its sockets are closed unless handed over to JS.
struct Job {
  // input
  std::vector<uint8_t> request;  // concatenated nlmsghdr-framed requests
  int nsfd = -1;                 // namespace to open the socket in (< 0: the worker's own); JS holds it open
  SocketFd sock;                 // an already open socket (kept by JS between batches) to use instead
  bool keep = false;             // leave the socket open and hand it back
  bool stop_on_error = false;    // do not send later chunks after a chunk had an error
  int timeout_ms = 30000;
  size_t chunk_msgs = 64;
  // output
  int err = 0;
  const char* syscall = nullptr;
  std::vector<uint8_t> reply;  // every reply message addressed to one of our seqs, in order
  SocketFd out_sock;           // the socket to hand back (keep, and no error)
  napi_deferred deferred = nullptr;
};

struct Engine {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Job>> queue;
  std::vector<std::thread> workers;              // joined at teardown: the addon may be unloaded right after
  std::unordered_map<int, SocketFd> kept;        // sockets handed to JS between batches of one operation
  std::unordered_map<int, UniqueFd> namespaces;  // namespace fds opened by nsOpen/nsOpenFd, held by JS
  bool stopping = false;
  int threads = 0;
  int idle = 0;
  int max_threads = 2;
  napi_threadsafe_function tsfn = nullptr;
  size_t in_flight = 0;  // JS thread only
};

bool Stopping(Engine* eng) {
  std::lock_guard<std::mutex> lk(eng->mu);
  return eng->stopping;
}

void RunJob(Engine* eng, Job* job) {
  struct Msg {
    size_t off, len;
    uint32_t seq;
    bool local;
  };
  std::vector<Msg> msgs;
  const uint8_t* req = job->request.data();
  size_t total = job->request.size();
  for (size_t off = 0; off < total;) {
    if (total - off < sizeof(nlmsghdr)) break;
    nlmsghdr h;
    memcpy(&h, req + off, sizeof h);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > total - off) {
      job->err = EINVAL;
      job->syscall = "frame";
      return;  // a socket passed in goes with the job: JS counts it closed after any failure
    }
    msgs.push_back({off, h.nlmsg_len, h.nlmsg_seq, h.nlmsg_type == kLocalEthtool});
    off += NLMSG_ALIGN(h.nlmsg_len);
  }

  SocketFd sock = job->sock ? std::move(job->sock) : OpenRouteSocket(job->nsfd, &job->err, &job->syscall);
  if (!sock) return;
  const int fd = sock.get();

  std::vector<uint8_t> buf(64 * 1024);
  const int64_t deadline = NowMs() + job->timeout_ms;
  size_t next = 0;
  while (next < msgs.size()) {
    if (Stopping(eng)) {
      job->err = ECANCELED;
      job->syscall = "transact";
      break;
    }
    if (msgs[next].local) {
      // Answered here, in order: everything before it has been acked, nothing after it is sent yet.
      nlmsghdr h;
      memcpy(&h, req + msgs[next].off, sizeof h);
      int e = RunLocalEthtool(fd, req + msgs[next].off + sizeof h, msgs[next].len - sizeof h);
      AppendAck(job->reply, h, e);
      next++;
      if (e != 0 && job->stop_on_error) break;
      continue;
    }
    // One chunk: consecutive messages, bounded so that their acks and echoes fit the receive buffer.
    size_t first = next, bytes = 0;
    std::unordered_map<uint32_t, bool> pending;
    while (next < msgs.size() && !msgs[next].local && next - first < job->chunk_msgs &&
           (next == first || bytes + NLMSG_ALIGN(msgs[next].len) <= kMaxChunkBytes)) {
      bytes += NLMSG_ALIGN(msgs[next].len);
      pending[msgs[next].seq] = true;
      next++;
    }
    size_t chunk_len = msgs[next - 1].off + msgs[next - 1].len - msgs[first].off;
    struct sockaddr_nl kernel {};
    kernel.nl_family = AF_NETLINK;
    struct iovec iov = {const_cast<uint8_t*>(req + msgs[first].off), chunk_len};
    struct msghdr mh {};
    mh.msg_name = &kernel;
    mh.msg_namelen = sizeof kernel;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n;
    do n = sendmsg(fd, &mh, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      job->err = errno;
      job->syscall = "sendmsg";
      break;
    }

    size_t open = pending.size();
    bool chunk_failed = false;
    while (open > 0) {
      int64_t left = deadline - NowMs();
      if (left <= 0) {
        job->err = ETIMEDOUT;
        job->syscall = "recvmsg";
        break;
      }
      if (Stopping(eng)) {
        job->err = ECANCELED;
        job->syscall = "transact";
        break;
      }
      struct pollfd pfd = {fd, POLLIN, 0};
      int pr = poll(&pfd, 1, int(left < kPollSliceMs ? left : kPollSliceMs));
      if (pr < 0 && errno != EINTR) {
        job->err = errno;
        job->syscall = "poll";
        break;
      }
      if (pr <= 0) continue;
      // Learn the datagram's size first so that nothing is ever truncated.
      ssize_t want;
      do want = recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
      while (want < 0 && errno == EINTR);
      if (want < 0) {
        if (errno == EAGAIN) continue;
        job->err = errno;  // ENOBUFS: the kernel dropped replies; the caller must not guess
        job->syscall = "recvmsg";
        break;
      }
      if (size_t(want) > buf.size()) buf.resize(size_t(want));
      struct sockaddr_nl from {};
      struct iovec riov = {buf.data(), buf.size()};
      struct msghdr rh {};
      rh.msg_name = &from;
      rh.msg_namelen = sizeof from;
      rh.msg_iov = &riov;
      rh.msg_iovlen = 1;
      ssize_t got;
      do got = recvmsg(fd, &rh, MSG_DONTWAIT);
      while (got < 0 && errno == EINTR);
      if (got < 0) {
        if (errno == EAGAIN) continue;
        job->err = errno;
        job->syscall = "recvmsg";
        break;
      }
      if (from.nl_pid != 0) continue;  // only the kernel talks to us
      size_t len = size_t(got);
      for (size_t off = 0; off + sizeof(nlmsghdr) <= len;) {
        nlmsghdr h;
        memcpy(&h, buf.data() + off, sizeof h);
        if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > len - off) break;
        auto it = pending.find(h.nlmsg_seq);
        if (it != pending.end()) {
          job->reply.insert(job->reply.end(), buf.data() + off, buf.data() + off + h.nlmsg_len);
          job->reply.resize(NLMSG_ALIGN(job->reply.size()), 0);
          if (it->second && (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_DONE)) {
            it->second = false;
            open--;
            if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= sizeof(nlmsghdr) + sizeof(int)) {
              int e;
              memcpy(&e, buf.data() + off + sizeof(nlmsghdr), sizeof e);
              if (e != 0) chunk_failed = true;
            }
          }
        }
        off += NLMSG_ALIGN(h.nlmsg_len);
      }
    }
    if (job->err) break;
    if (chunk_failed && job->stop_on_error) break;
  }

  if (job->keep && !job->err) job->out_sock = std::move(sock);
}

void WorkerMain(std::shared_ptr<Engine> eng) {
  // Signals go to the JS thread; factory threads inherit this mask too.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lk(eng->mu);
      eng->idle++;
      eng->cv.wait(lk, [&] { return eng->stopping || !eng->queue.empty(); });
      eng->idle--;
      if (eng->stopping) break;
      job = std::move(eng->queue.front());
      eng->queue.pop_front();
    }
    RunJob(eng.get(), job.get());
    // The completion queue owns the job from here; if it refuses (the environment is going away,
    // nobody will take the answer), the job is still ours and closes its socket as it goes.
    Job* handed = job.release();
    if (napi_call_threadsafe_function(eng->tsfn, handed, napi_tsfn_nonblocking) != napi_ok) job.reset(handed);
  }
  std::lock_guard<std::mutex> lk(eng->mu);
  eng->threads--;
}

struct EngineHolder {
  std::shared_ptr<Engine> eng;
};

// Builds the rejection value without C++ exceptions (this runs outside any napi callback wrapper).
napi_value ErrnoErrorRaw(napi_env env, int err, const char* syscall) {
  char buf[128];
  const char* text = strerror_r(err, buf, sizeof buf);
  std::string msg = std::string(syscall) + ": " + text;
  napi_value m, e, v;
  if (napi_create_string_utf8(env, msg.c_str(), msg.size(), &m) != napi_ok) return nullptr;
  if (napi_create_error(env, nullptr, m, &e) != napi_ok) return nullptr;
  if (napi_create_int32(env, err, &v) == napi_ok) napi_set_named_property(env, e, "errno", v);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, e, "syscall", v);
  return e;
}

// Runs on the JS thread: settles the job's promise. Plain N-API calls only: while an environment
// is being torn down (worker_threads terminate) they fail, and nothing may throw from here.
void Deliver(napi_env env, napi_value, void* context, void* data) {
  std::unique_ptr<Job> job(static_cast<Job*>(data));  // a socket nobody received closes with it
  Engine* eng = static_cast<Engine*>(context);
  if (env != nullptr) {
    napi_handle_scope scope;
    bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
    if (job->err) {
      napi_value e = ErrnoErrorRaw(env, job->err, job->syscall ? job->syscall : "transact");
      if (e) napi_reject_deferred(env, job->deferred, e);
    } else {
      napi_value out, buf, sock;
      void* copy = nullptr;
      if (napi_create_array_with_length(env, 2, &out) == napi_ok &&
          napi_create_buffer_copy(env, job->reply.size(), job->reply.data(), &copy, &buf) == napi_ok &&
          napi_create_int32(env, job->out_sock.get(), &sock) == napi_ok && napi_set_element(env, out, 0, buf) == napi_ok &&
          napi_set_element(env, out, 1, sock) == napi_ok && napi_resolve_deferred(env, job->deferred, out) == napi_ok) {
        if (job->out_sock) {
          std::lock_guard<std::mutex> lk(eng->mu);
          int fd = job->out_sock.get();
          eng->kept[fd] = std::move(job->out_sock);  // JS has its number; closed by closeSocket or at teardown
        }
      }
    }
    if (scoped) napi_close_handle_scope(env, scope);
    if (--eng->in_flight == 0) napi_unref_threadsafe_function(env, eng->tsfn);
  }
}

void Teardown(void* arg) {
  EngineHolder* holder = static_cast<EngineHolder*>(arg);
  std::shared_ptr<Engine> eng = holder->eng;
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lk(eng->mu);
    eng->stopping = true;
    eng->cv.notify_all();
    workers.swap(eng->workers);
  }
  // Workers notice within one poll slice or one chunk. Join, not just wait for a counter: the
  // environment may unload this library right after, and a thread still in its epilogue would crash.
  for (std::thread& t : workers) t.join();
  {
    std::lock_guard<std::mutex> lk(eng->mu);
    eng->queue.clear();  // jobs never run: a kept socket passed back in closes with its job
    // Sockets and namespace fds JS still held (an environment terminated mid-operation): they would
    // pin namespaces.
    eng->kept.clear();
    eng->namespaces.clear();
  }
  if (eng->tsfn) napi_release_threadsafe_function(eng->tsfn, napi_tsfn_abort);
  delete holder;
}

Engine* GetEngine(Napi::Env env) {
  EngineHolder* holder = env.GetInstanceData<EngineHolder>();
  return holder ? holder->eng.get() : nullptr;
}

// ---- exported functions ---------------------------------------------------------------------

// Argument checks: a wrong type from JS is a TypeError here, never an unchecked As<>() cast.
Napi::TypeError ArgError(Napi::Env env, const char* fn, const char* name, const char* want) {
  return Napi::TypeError::New(env, std::string(fn) + ": " + name + " must be " + want);
}

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) throw ArgError(info.Env(), fn, name, "a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || d < -2147483648.0 || d > 2147483647.0) throw ArgError(info.Env(), fn, name, "a 32-bit integer");
  return int32_t(d);
}

uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) throw ArgError(info.Env(), fn, name, "a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || d < 0 || d > 4294967295.0) throw ArgError(info.Env(), fn, name, "an unsigned 32-bit integer");
  return uint32_t(d);
}

Engine* GetEngineOrThrow(Napi::Env env) {
  Engine* eng = GetEngine(env);
  if (!eng) throw Napi::Error::New(env, "ecdock native addon: not initialised in this environment");
  return eng;
}

// transact(request: Buffer, nsfd: number, sock: number, flags: number, timeoutMs: number,
//          chunkMsgs: number): Promise<[replies: Buffer, sock: number]>
// flags: 1 = keep the socket open and return it, 2 = stop sending chunks after a failed one.
// nsfd is -1 or a namespace fd of nsOpen/nsOpenFd; sock is -1 or a socket a kept transact returned.
Napi::Value Transact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "transact";
  if (info.Length() < 1 || !info[0].IsBuffer()) throw ArgError(env, fn, "request", "a Buffer");
  int nsfd = ArgInt32(info, 1, fn, "nsfd");
  int sockfd = ArgInt32(info, 2, fn, "sock");
  uint32_t flags = ArgUint32(info, 3, fn, "flags");
  int timeout_ms = ArgInt32(info, 4, fn, "timeoutMs");
  int chunk = ArgInt32(info, 5, fn, "chunkMsgs");
  Engine* eng = GetEngineOrThrow(env);
  auto req = info[0].As<Napi::Buffer<uint8_t>>();
  std::unique_ptr<Job> job(new Job());
  job->request.assign(req.Data(), req.Data() + req.Length());  // never touch JS memory off-thread
  job->keep = flags & 1;
  job->stop_on_error = flags & 2;
  job->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
  job->chunk_msgs = chunk > 0 ? size_t(chunk) : 64;
  {
    std::lock_guard<std::mutex> lk(eng->mu);
    // The worker's setns would act on any descriptor number: only namespaces we opened.
    if (nsfd >= 0 && eng->namespaces.count(nsfd) == 0) throw Napi::Error::New(env, "transact: nsfd " + std::to_string(nsfd) + " is not a namespace opened by nsOpen");
    job->nsfd = nsfd < 0 ? -1 : nsfd;
    if (sockfd >= 0) {
      auto it = eng->kept.find(sockfd);
      if (it == eng->kept.end()) throw Napi::Error::New(env, "transact: not a socket of this addon");
      job->sock = std::move(it->second);  // the job owns it now; closed with it if it fails
      eng->kept.erase(it);
    }
  }

  napi_value promise;
  napi_status st = napi_create_promise(env, &job->deferred, &promise);
  NAPI_THROW_IF_FAILED(env, st, Napi::Value());
  {
    std::lock_guard<std::mutex> lk(eng->mu);
    if (eng->idle == 0 && eng->threads < eng->max_threads) {
      try {
        eng->workers.emplace_back(WorkerMain, env.GetInstanceData<EngineHolder>()->eng);
        eng->threads++;
      } catch (...) {
        // The existing workers will drain the queue; with none at all, fail this call.
        if (eng->threads == 0) {
          napi_reject_deferred(env, job->deferred, ErrnoError(env, EAGAIN, "pthread_create").Value());
          return Napi::Value(env, promise);
        }
      }
    }
    eng->queue.push_back(std::move(job));
    eng->cv.notify_one();
  }
  if (eng->in_flight++ == 0) napi_ref_threadsafe_function(env, eng->tsfn);
  return Napi::Value(env, promise);
}

// closeSocket(sock): closes a socket kept open by transact(..., keep). Only those: a stale or
// foreign number is ignored rather than closing some other descriptor of the process.
Napi::Value CloseSocketJs(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "closeSocket", "sock");
  Engine* eng = GetEngineOrThrow(info.Env());
  SocketFd doomed;  // closed after the lock is released
  {
    std::lock_guard<std::mutex> lk(eng->mu);
    auto it = eng->kept.find(fd);
    if (it != eng->kept.end()) {
      doomed = std::move(it->second);
      eng->kept.erase(it);
    }
  }
  return info.Env().Undefined();
}

// Validates that fd is a network-namespace file; registers it and returns [fd, dev, ino], or
// throws (the fd closes as `fd` goes out of scope).
Napi::Value Describe(Napi::Env env, UniqueFd fd, const std::string& what) {
  struct stat st;
  if (fstat(fd.get(), &st) != 0) throw ErrnoError(env, errno, "fstat", what);
  int type = ioctl(fd.get(), NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    int e = type < 0 ? errno : 0;
    Napi::Error err = Napi::Error::New(env, what + " is not a network namespace");
    err.Set("code", Napi::String::New(env, "NOT_A_NETNS"));
    err.Set("nstype", Napi::Number::New(env, type < 0 ? 0 : type));
    if (e) err.Set("errno", Napi::Number::New(env, e));
    err.Set("regular", Napi::Boolean::New(env, S_ISREG(st.st_mode)));
    err.Set("size", Napi::Number::New(env, double(st.st_size)));
    throw err;
  }
  Engine* eng = GetEngineOrThrow(env);
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(uint32_t(0), Napi::Number::New(env, fd.get()));
  out.Set(uint32_t(1), Napi::BigInt::New(env, uint64_t(st.st_dev)));
  out.Set(uint32_t(2), Napi::BigInt::New(env, uint64_t(st.st_ino)));
  std::lock_guard<std::mutex> lk(eng->mu);
  int n = fd.get();
  eng->namespaces[n] = std::move(fd);
  return out;
}

// nsOpen(path): opens a namespace file O_RDONLY|O_CLOEXEC -> [fd, dev, ino].
Napi::Value NsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw ArgError(env, "nsOpen", "path", "a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos) throw ArgError(env, "nsOpen", "path", "a path without NUL bytes");
  int fd;
  do fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) throw ErrnoError(env, errno, "open", path);
  return Describe(env, UniqueFd(fd), path);
}

// nsOpenFd(fd): duplicates a caller's fd (CLOEXEC) -> [fd, dev, ino]; the caller keeps its own.
Napi::Value NsOpenFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int src = ArgInt32(info, 0, "nsOpenFd", "fd");
  UniqueFd fd(fcntl(src, F_DUPFD_CLOEXEC, 3));
  if (!fd) throw ErrnoError(env, errno, "fcntl", "fd " + std::to_string(src));
  return Describe(env, std::move(fd), "fd " + std::to_string(src));
}

// nsClose(fd): closes a namespace fd of nsOpen/nsOpenFd. Anything else (a stale number, another
// descriptor of the process) is refused and left open.
Napi::Value NsClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "nsClose", "fd");
  Engine* eng = GetEngineOrThrow(env);
  UniqueFd doomed;
  {
    std::lock_guard<std::mutex> lk(eng->mu);
    auto it = eng->namespaces.find(fd);
    if (it == eng->namespaces.end()) throw Napi::Error::New(env, "nsClose: fd " + std::to_string(fd) + " is not a namespace opened by nsOpen (or it is closed already)");
    doomed = std::move(it->second);
    eng->namespaces.erase(it);
  }
  return env.Undefined();
}

// configure({ workers }): how many worker threads may run transactions at once (default 2).
Napi::Value Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw ArgError(env, "configure", "options", "an object");
  Engine* eng = GetEngineOrThrow(env);
  Napi::Object o = info[0].As<Napi::Object>();
  if (o.Has("workers")) {
    Napi::Value w = o.Get("workers");
    if (!w.IsNumber()) throw ArgError(env, "configure", "workers", "a number");
    double d = w.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::trunc(d)) throw ArgError(env, "configure", "workers", "an integer");
    int n = d < 1 ? 1 : d > 64 ? 64 : int(d);
    std::lock_guard<std::mutex> lk(eng->mu);
    eng->max_threads = n;
  }
  return env.Undefined();
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* eng = GetEngineOrThrow(env);
  Napi::Object o = Napi::Object::New(env);
  std::lock_guard<std::mutex> lk(eng->mu);
  o.Set("workers", Napi::Number::New(env, eng->threads));
  o.Set("maxWorkers", Napi::Number::New(env, eng->max_threads));
  o.Set("queued", Napi::Number::New(env, double(eng->queue.size())));
  o.Set("inFlight", Napi::Number::New(env, double(eng->in_flight)));
  o.Set("socketsOpen", Napi::Number::New(env, double(g_sockets_open.load())));
  o.Set("factoryThreads", Napi::Number::New(env, double(g_factory_threads.load())));
  o.Set("namespacesOpen", Napi::Number::New(env, double(eng->namespaces.size())));
  return o;
}

}  // namespace

// Keeps this library mapped for the life of the process, whatever environments (worker_threads)
// come and go: our threads must never run code that has been unmapped.
static void PinLibrary() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&PinLibrary), &info) && info.dli_fname) dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  auto holder = new EngineHolder{std::make_shared<Engine>()};
  Engine* eng = holder->eng.get();
  napi_value name;
  napi_create_string_utf8(env, "ecdock-netlink", NAPI_AUTO_LENGTH, &name);
  napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, eng, Deliver, &eng->tsfn);
  if (st != napi_ok) {
    delete holder;
    throw Napi::Error::New(env, "cannot create the netlink completion queue");
  }
  napi_unref_threadsafe_function(env, eng->tsfn);  // idle: do not keep the event loop alive
  // Instance data without a finalizer: the cleanup hook below owns the holder.
  napi_set_instance_data(env, holder, nullptr, nullptr);
  napi_add_env_cleanup_hook(env, Teardown, holder);
  exports.Set("transact", Napi::Function::New(env, Transact, "transact"));
  exports.Set("closeSocket", Napi::Function::New(env, CloseSocketJs, "closeSocket"));
  exports.Set("nsOpen", Napi::Function::New(env, NsOpen, "nsOpen"));
  exports.Set("nsOpenFd", Napi::Function::New(env, NsOpenFd, "nsOpenFd"));
  exports.Set("nsClose", Napi::Function::New(env, NsClose, "nsClose"));
  exports.Set("configure", Napi::Function::New(env, Configure, "configure"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  return exports;
}

NODE_API_MODULE(ecdock_native, Init)
