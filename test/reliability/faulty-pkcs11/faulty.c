/*
 * A fault-injecting PKCS#11 module for signerd's reliability tests.
 *
 * It dlopens the real module named by $FAULTY_PKCS11_TARGET (SoftHSM2 in the tests) and hands out a
 * copy of its function table in which the functions signerd uses are wrapped; every other entry is
 * the real module's own. Each wrapped call first consults the control file named by
 * $FAULTY_PKCS11_CONTROL (re-read whenever its mtime/size/inode change: one stat() per call) and
 * then either answers an error, sleeps, hangs, or forwards to the real module.
 *
 * Control file: `key=value` lines, anything else ignored.
 *   mode=off|error|delay|hang   (default off)
 *   rv=0x32                     the CKR_* value for mode=error (hex or decimal)
 *   functions=C_Sign,C_SignInit the functions affected; `*` (default) = every wrapped function
 *   count=N                     only the next N matching calls (0 = all, the default)
 *   delay_ms=N                  for mode=delay
 * A hang lasts until the control file changes (then the call is forwarded), or at most
 * $FAULTY_PKCS11_MAX_HANG_MS (default 120000) so a crashed test never leaves a thread stuck forever.
 *
 * $FAULTY_PKCS11_STATS, if set, names a file rewritten after every injected fault with
 * "injected=N hung_now=M".
 *
 * Thread-safe: the control state is behind one mutex; sleeping and hanging happen outside it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11/pkcs11.h"

#define MODE_OFF 0
#define MODE_ERROR 1
#define MODE_DELAY 2
#define MODE_HANG 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *target_handle;
static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST wrapped;
static CK_RV load_error = CKR_OK;

/* Control state, guarded by `lock`. */
static struct {
  struct timespec mtime;
  off_t size;
  ino_t ino;
  int present;
  int mode;
  CK_RV rv;
  char functions[1024];
  long count;    /* remaining matching calls; -1 = unlimited */
  long delay_ms;
  unsigned long generation; /* bumped on every re-read: ends hangs */
  unsigned long injected;
  long hung_now;
} ctl;

static const char *control_path(void) { return getenv("FAULTY_PKCS11_CONTROL"); }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

static void write_stats_locked(void) {
  const char *path = getenv("FAULTY_PKCS11_STATS");
  if (!path) return;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return;
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "injected=%lu hung_now=%ld\n", ctl.injected, ctl.hung_now);
  fclose(f);
  rename(tmp, path);
}

/* Parses the control file into `ctl` (caller holds `lock`). A missing file means mode=off. */
static void parse_locked(void) {
  ctl.mode = MODE_OFF;
  ctl.rv = CKR_GENERAL_ERROR;
  strcpy(ctl.functions, "*");
  ctl.count = -1;
  ctl.delay_ms = 0;
  ctl.generation++;
  const char *path = control_path();
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[1200];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = 0;
    const char *key = line, *value = eq + 1;
    if (strcmp(key, "mode") == 0) {
      if (strcmp(value, "error") == 0) ctl.mode = MODE_ERROR;
      else if (strcmp(value, "delay") == 0) ctl.mode = MODE_DELAY;
      else if (strcmp(value, "hang") == 0) ctl.mode = MODE_HANG;
      else ctl.mode = MODE_OFF;
    } else if (strcmp(key, "rv") == 0) {
      ctl.rv = (CK_RV)strtoul(value, NULL, 0);
    } else if (strcmp(key, "functions") == 0) {
      snprintf(ctl.functions, sizeof ctl.functions, "%s", value);
    } else if (strcmp(key, "count") == 0) {
      long n = strtol(value, NULL, 10);
      ctl.count = n > 0 ? n : -1;
    } else if (strcmp(key, "delay_ms") == 0) {
      ctl.delay_ms = strtol(value, NULL, 10);
    }
  }
  fclose(f);
}

/* One stat() per call: re-reads the control file when it changed. Caller holds `lock`. */
static void refresh_locked(void) {
  const char *path = control_path();
  struct stat st;
  int present = path && stat(path, &st) == 0;
  if (!present) {
    if (ctl.present) {
      ctl.present = 0;
      parse_locked();
    }
    return;
  }
  if (!ctl.present || st.st_mtim.tv_sec != ctl.mtime.tv_sec || st.st_mtim.tv_nsec != ctl.mtime.tv_nsec ||
      st.st_size != ctl.size || st.st_ino != ctl.ino) {
    ctl.present = 1;
    ctl.mtime = st.st_mtim;
    ctl.size = st.st_size;
    ctl.ino = st.st_ino;
    parse_locked();
  }
}

/* Does `name` appear in the comma-separated list (or is the list `*`)? */
static int listed(const char *list, const char *name) {
  if (strcmp(list, "*") == 0) return 1;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0) return 1;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

/* Decides what happens to a call of `name`: CKR_OK to forward (after any delay or hang), or an error. */
static CK_RV inject(const char *name) {
  long max_hang = 120000;
  const char *cap = getenv("FAULTY_PKCS11_MAX_HANG_MS");
  if (cap) max_hang = strtol(cap, NULL, 10);

  pthread_mutex_lock(&lock);
  refresh_locked();
  if (ctl.mode == MODE_OFF || ctl.count == 0 || !listed(ctl.functions, name)) {
    pthread_mutex_unlock(&lock);
    return CKR_OK;
  }
  if (ctl.count > 0) ctl.count--;
  ctl.injected++;
  int mode = ctl.mode;
  CK_RV rv = ctl.rv;
  long delay = ctl.delay_ms;
  unsigned long generation = ctl.generation;
  if (mode == MODE_HANG) ctl.hung_now++;
  write_stats_locked();
  pthread_mutex_unlock(&lock);

  if (mode == MODE_ERROR) return rv;
  if (mode == MODE_DELAY) {
    sleep_ms(delay);
    return CKR_OK;
  }
  /* MODE_HANG: until the control file changes, or the safety cap. */
  for (long waited = 0; waited < max_hang; waited += 5) {
    sleep_ms(5);
    pthread_mutex_lock(&lock);
    refresh_locked();
    int changed = ctl.generation != generation;
    pthread_mutex_unlock(&lock);
    if (changed) break;
  }
  pthread_mutex_lock(&lock);
  ctl.hung_now--;
  write_stats_locked();
  pthread_mutex_unlock(&lock);
  return CKR_OK;
}

#define WRAP(name, params, args)                   \
  static CK_RV w_##name params {                   \
    CK_RV rv = inject(#name);                      \
    if (rv != CKR_OK) return rv;                   \
    return real->name args;                        \
  }

WRAP(C_Initialize, (CK_VOID_PTR a), (a))
WRAP(C_GetInfo, (CK_INFO_PTR a), (a))
WRAP(C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c))
WRAP(C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b))
WRAP(C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b))
WRAP(C_GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c), (a, b, c))
WRAP(C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e),
     (a, b, c, d, e))
WRAP(C_CloseSession, (CK_SESSION_HANDLE a), (a))
WRAP(C_CloseAllSessions, (CK_SLOT_ID a), (a))
WRAP(C_GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b))
WRAP(C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d), (a, b, c, d))
WRAP(C_Logout, (CK_SESSION_HANDLE a), (a))
WRAP(C_CreateObject, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d),
     (a, b, c, d))
WRAP(C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))
WRAP(C_GetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d),
     (a, b, c, d))
WRAP(C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))
WRAP(C_FindObjects, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d), (a, b, c, d))
WRAP(C_FindObjectsFinal, (CK_SESSION_HANDLE a), (a))
WRAP(C_SignInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
WRAP(C_Sign, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), (a, b, c, d, e))
WRAP(C_GenerateKeyPair,
     (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_ATTRIBUTE_PTR e, CK_ULONG f,
      CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h),
     (a, b, c, d, e, f, g, h))

/* C_Finalize is forwarded untouched: a test's cleanup must always be able to finalize. */

static void load_target(void) {
  const char *path = getenv("FAULTY_PKCS11_TARGET");
  if (!path) {
    load_error = CKR_GENERAL_ERROR;
    return;
  }
  target_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!target_handle) {
    fprintf(stderr, "faulty-pkcs11: cannot load %s: %s\n", path, dlerror());
    load_error = CKR_GENERAL_ERROR;
    return;
  }
  CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(target_handle, "C_GetFunctionList");
  if (!get || get(&real) != CKR_OK || !real) {
    load_error = CKR_GENERAL_ERROR;
    return;
  }
  wrapped = *real;
#define USE(name) wrapped.name = w_##name
  USE(C_Initialize);
  USE(C_GetInfo);
  USE(C_GetSlotList);
  USE(C_GetSlotInfo);
  USE(C_GetTokenInfo);
  USE(C_GetMechanismList);
  USE(C_OpenSession);
  USE(C_CloseSession);
  USE(C_CloseAllSessions);
  USE(C_GetSessionInfo);
  USE(C_Login);
  USE(C_Logout);
  USE(C_CreateObject);
  USE(C_DestroyObject);
  USE(C_GetAttributeValue);
  USE(C_FindObjectsInit);
  USE(C_FindObjects);
  USE(C_FindObjectsFinal);
  USE(C_SignInit);
  USE(C_Sign);
  USE(C_GenerateKeyPair);
#undef USE
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (!list) return CKR_ARGUMENTS_BAD;
  pthread_once(&once, load_target);
  if (load_error != CKR_OK) return load_error;
  *list = &wrapped;
  return CKR_OK;
}
