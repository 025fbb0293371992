#ifndef CKEYHOLE_SECRET_H
#define CKEYHOLE_SECRET_H

/*
 * A flat, non-variadic C interface to the Secret Service through libsecret.
 *
 * libsecret (and the glib, gobject and gio functions it needs) is loaded at run time with dlopen, so a binary
 * linked with this shim builds and starts on a machine where libsecret is not installed; `ckh_open` then
 * reports CKH_LIBSECRET_MISSING. No glib or libsecret header is included.
 *
 * Items use the schema `dev.keyhole.Credential` with the attributes `service=keyhole` and `name=NAME` and are
 * stored in the default collection, so `secret-tool search service keyhole` lists them.
 *
 * Every function is blocking and serialised through one process-wide mutex. Strings returned through `char **`
 * are owned by the caller: error messages are freed with `ckh_free_message`, secrets with `ckh_free_secret`
 * (which wipes the bytes first). No error message ever contains a secret value.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The outcome of a call. Values are stable; the Swift side maps them to its error type.
typedef enum ckh_status {
    CKH_OK = 0,
    /// libsecret (or glib/gio) could not be loaded.
    CKH_LIBSECRET_MISSING = 1,
    /// No session bus, or nobody owns `org.freedesktop.secrets` and it cannot be activated.
    CKH_NO_PROVIDER = 2,
    /// The default collection is locked (and was not unlocked).
    CKH_LOCKED = 3,
    /// An unlock or create prompt was dismissed (or could not be shown).
    CKH_DISMISSED = 4,
    /// No item with that name.
    CKH_NOT_FOUND = 5,
    /// The call did not finish before its deadline and was cancelled.
    CKH_TIMED_OUT = 6,
    /// Anything else; the error message says what.
    CKH_FAILED = 7,
    /// The service has no default collection, and creating one (which needs a prompt) failed.
    CKH_NO_COLLECTION = 8,
} ckh_status;

/// State of the default collection, from `ckh_collection_state`.
typedef enum ckh_collection {
    CKH_COLLECTION_UNLOCKED = 0,
    CKH_COLLECTION_LOCKED = 1,
    /// The service has no `default` alias (nothing was ever stored; storing creates one, which may prompt).
    CKH_COLLECTION_MISSING = 2,
} ckh_collection;

/// Loaded libsecret entry points. Never freed: glib must not be unloaded from a running process.
typedef struct ckh_library ckh_library;

/// The library name loaded when `ckh_open` is given NULL.
#define CKH_DEFAULT_LIBRARY "libsecret-1.so.0"

/// Loads libsecret (`library_name`, or CKH_DEFAULT_LIBRARY when NULL) and resolves every function the shim
/// uses. Returns NULL and sets `*error` when the library or one of its functions is missing. Loading the same
/// name again returns the same handle.
const ckh_library *ckh_open(const char *library_name, char **error);

/// Whether `org.freedesktop.secrets` is owned or activatable on the bus at `bus_address` (a D-Bus address such
/// as `unix:path=/run/user/1000/bus`). Connects privately with a deadline of `timeout_ms` for the whole probe,
/// so an address that points nowhere, or at something that never answers, cannot hang the caller.
/// Returns 1 (offered), 0 (not offered, `*error` may say why) — never blocks longer than about `timeout_ms`.
int ckh_service_offered(const ckh_library *library, const char *bus_address, int timeout_ms, char **error);

/// Reads whether the default collection is locked, straight from the service (no cached proxy).
ckh_status ckh_collection_state(const ckh_library *library, ckh_collection *state, int timeout_ms, char **error);

/// Asks the service to unlock the default collection (the service may show a prompt). CKH_OK when it is
/// unlocked afterwards, CKH_DISMISSED when the prompt was dismissed or could not be shown, CKH_TIMED_OUT when
/// nobody answered within `timeout_ms`, CKH_NO_COLLECTION when there is no default collection.
ckh_status ckh_unlock_default(const ckh_library *library, int timeout_ms, char **error);

/// Stores (or replaces) the item `name` with the given label and secret (a NUL-terminated UTF-8 string) in the
/// default collection. Refuses with CKH_LOCKED when the default collection is locked; CKH_NO_COLLECTION when
/// there is none and the service could not create one.
ckh_status ckh_store(const ckh_library *library, const char *name, const char *label, const char *secret,
                     int timeout_ms, char **error);

/// Looks the item `name` up. On CKH_OK `*secret` holds the value (free it with `ckh_free_secret`). Answers
/// CKH_LOCKED rather than CKH_NOT_FOUND when the default collection is locked.
ckh_status ckh_lookup(const ckh_library *library, const char *name, char **secret, int timeout_ms,
                      char **error);

/// Deletes the item `name`. A missing item is CKH_OK; a locked default collection is CKH_LOCKED.
ckh_status ckh_clear(const ckh_library *library, const char *name, int timeout_ms, char **error);

/// Wipes and frees a secret returned by `ckh_lookup`. NULL is ignored.
void ckh_free_secret(char *secret);

/// Frees an error message. NULL is ignored.
void ckh_free_message(char *message);

#ifdef __cplusplus
}
#endif

#endif
