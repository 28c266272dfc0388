// ecdock-cni-forward: what a CNI runtime execs as the "ecdock" plugin when the resident daemon
// (`ecdock-cni serve`) is meant to serve the calls. It hands the call's CNI_* and ECDOCK_*
// environment and its stdin to the daemon over a unix socket and prints the answer, so a call
// costs a tiny C process instead of a Node start. With no daemon (no socket, nobody listening),
// or a socket it must not trust (not owned by this user, open to others), or a daemon that says
// "run it yourself" (another mount or PID namespace), it execs the Node plugin (dist/src/cni/main.js,
// found relative to this executable) in this same process, with the same environment and stdin.
// The wire format is described in src/cni/wire.ts.

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_SOCKET "/run/ecdock/cni.sock"
#define MAX_STDIN (16u << 20)
#define FALLBACK 0xff

struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) exit(1);
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
}

/* A CNI error object on stdout, exit status 1. */
static void fail(int code, const char *msg, const char *detail) {
  printf("{\"cniVersion\":\"1.0.0\",\"code\":%d,\"msg\":\"ecdock-cni forwarder: %s", code, msg);
  if (detail) {
    for (const char *c = detail; *c; c++) {
      if (*c == '"' || *c == '\\') putchar('\\');
      if ((unsigned char)*c >= 0x20) putchar(*c);
    }
  }
  printf("\"}\n");
  fflush(stdout);
  exit(1);
}

/* The Node plugin, two directories up from this executable (build/Release or prebuilds/<platform>). */
static void plugin_js(char *out, size_t n) {
  char exe[PATH_MAX];
  ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (l <= 0) fail(106, "cannot read /proc/self/exe: ", strerror(errno));
  exe[l] = 0;
  char *slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  if ((size_t)snprintf(out, n, "%s/../../dist/src/cni/main.js", exe) >= n) fail(106, "path too long: ", exe);
}

/* Runs the call in this process: exec the Node plugin, with the stdin already read handed back on fd 0. */
static void fallback(const struct buf *in, int have_read) {
  char js[PATH_MAX];
  plugin_js(js, sizeof js);
  if (have_read) {
    int fd = memfd_create("ecdock-cni-stdin", 0);
    if (fd < 0) fail(106, "memfd_create: ", strerror(errno));
    for (size_t off = 0; off < in->len;) {
      ssize_t w = write(fd, in->p + off, in->len - off);
      if (w < 0) fail(106, "writing stdin back: ", strerror(errno));
      off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, 0) < 0) fail(106, "handing stdin back: ", strerror(errno));
    close(fd);
  }
  char *argv[] = {js, NULL};
  execv(js, argv);
  fail(106, "cannot run the Node plugin: ", js);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void put_ns(struct buf *b, const char *name, const char *path) {
  struct stat st;
  char line[128];
  int n = snprintf(line, sizeof line, "%s=%llu", name, stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0ull);
  put(b, line, (size_t)n + 1);
}

int main(void) {
  const char *path = getenv("ECDOCK_CNI_SOCKET");
  if (!path || !*path) path = DEFAULT_SOCKET;
  struct buf in = {0};

  // Only a socket of this user, closed to everyone else, is trusted with the call.
  struct stat st;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) || strlen(path) >= sizeof sa.sun_path) fallback(&in, 0);
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    if (fd >= 0) close(fd);
    fallback(&in, 0);
  }

  for (;;) {
    char chunk[65536];
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    put(&in, chunk, (size_t)r);
    if (in.len > MAX_STDIN) fail(6, "the network configuration on stdin is larger than 16 MiB", NULL);
  }

  struct buf req = {0};
  put(&req, "ECNI1", 6);
  put_ns(&req, "ECDOCK_CNI_MNTNS", "/proc/self/ns/mnt");
  put_ns(&req, "ECDOCK_CNI_PIDNS", "/proc/self/ns/pid");
  for (char **e = environ; *e; e++) {
    if (!strncmp(*e, "CNI_", 4) || (!strncmp(*e, "ECDOCK_", 7) && strncmp(*e, "ECDOCK_CNI_", 11))) put(&req, *e, strlen(*e) + 1);
  }
  put(&req, "", 1);
  put(&req, in.p ? in.p : "", in.len);
  // The daemon acts only on a whole request: if it could not take it, nothing happened there.
  if (write_all(fd, req.p, req.len) != 0 || shutdown(fd, SHUT_WR) != 0) {
    close(fd);
    fallback(&in, 1);
  }

  struct buf resp = {0};
  for (;;) {
    char chunk[65536];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    put(&resp, chunk, (size_t)r);
  }
  close(fd);
  if (resp.len >= 1 && (unsigned char)resp.p[0] == FALLBACK) fallback(&in, 1);
  uint32_t len = 0;
  if (resp.len >= 5) len = ((uint32_t)(unsigned char)resp.p[1] << 24) | ((uint32_t)(unsigned char)resp.p[2] << 16) | ((uint32_t)(unsigned char)resp.p[3] << 8) | (unsigned char)resp.p[4];
  if (resp.len < 5 || resp.len - 5 < len) {
    // The daemon went away during the call. An ADD may have been half done there: say so, and the
    // runtime's DEL cleans up. Anything else is safe to run again here.
    const char *cmd = getenv("CNI_COMMAND");
    if (cmd && !strcmp(cmd, "ADD")) fail(11, "the ecdock-cni daemon ended during ADD; try again (DEL removes what it left)", NULL);
    fallback(&in, 1);
  }
  for (size_t off = 0; off < len;) {
    ssize_t w = write(1, resp.p + 5 + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    off += (size_t)w;
  }
  return (unsigned char)resp.p[0] == 0 ? 0 : 1;
}
