/*
 * signerd's native helpers, the two things Node has no API for:
 * - getPeerCred(fd): the uid, gid and pid of the process at the other end of a Unix socket
 *   (SO_PEERCRED). The kernel records these when the peer connects; the caller cannot forge them.
 * - disableCoreDumps(): RLIMIT_CORE 0 and PR_SET_DUMPABLE 0, so a crash never writes the process's
 *   memory (PIN, session state) to disk and other processes of the same uid cannot ptrace it.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/resource.h>
#endif

static napi_value set_int(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  if (napi_create_int64(env, value, &v) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, name, v) != napi_ok) return NULL;
  return obj;
}

static napi_value get_peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_PEERCRED", "peercred: fd must be a non-negative integer");
    return NULL;
  }
#ifdef __linux__
  struct ucred cred;
  socklen_t len = sizeof cred;
  memset(&cred, 0, sizeof cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    char msg[160];
    snprintf(msg, sizeof msg, "peercred: getsockopt(SO_PEERCRED) failed: %s", strerror(errno));
    napi_throw_error(env, "ERR_PEERCRED", msg);
    return NULL;
  }
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  if (!set_int(env, obj, "pid", cred.pid) || !set_int(env, obj, "uid", cred.uid) ||
      !set_int(env, obj, "gid", cred.gid)) {
    return NULL;
  }
  return obj;
#else
  (void)fd;
  napi_throw_error(env, "ERR_PEERCRED", "peercred: SO_PEERCRED is available on Linux only");
  return NULL;
#endif
}

static napi_value disable_core_dumps(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __linux__
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "disableCoreDumps failed: %s", strerror(errno));
    napi_throw_error(env, "ERR_NATIVE", msg);
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, true, &result);
  return result;
#else
  napi_throw_error(env, "ERR_NATIVE", "disableCoreDumps is implemented for Linux only");
  return NULL;
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "getPeerCred", NAPI_AUTO_LENGTH, get_peer_cred, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "getPeerCred", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "disableCoreDumps", NAPI_AUTO_LENGTH, disable_core_dumps, NULL, &fn) != napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "disableCoreDumps", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
