/* Loading libsecret at run time, error mapping, deadlines. */

#include "ckh_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

pthread_mutex_t ckh_mutex = PTHREAD_MUTEX_INITIALIZER;

/// Libraries loaded so far, by name. A handful at most (the real one, and test overrides).
typedef struct ckh_loaded {
    char *name;
    ckh_library library;
    struct ckh_loaded *next;
} ckh_loaded;

static ckh_loaded *ckh_loaded_list = NULL;

char *ckh_strdup(const char *message) {
    return message == NULL ? NULL : strdup(message);
}

void ckh_set_error(char **error, const char *message) {
    if (error != NULL) {
        free(*error);
        *error = ckh_strdup(message);
    }
}

void ckh_free_message(char *message) {
    free(message);
}

void ckh_free_secret(char *secret) {
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

#define CKH_RESOLVE(handle, library, symbol, missing)                                                          \
    do {                                                                                                        \
        *(void **)(&(library)->symbol) = dlsym((handle), #symbol);                                              \
        if ((library)->symbol == NULL && (missing) == NULL) {                                                   \
            (missing) = #symbol;                                                                                \
        }                                                                                                       \
    } while (0)

static const char *ckh_resolve_all(void *handle, ckh_library *library) {
    const char *missing = NULL;
    CKH_RESOLVE(handle, library, g_hash_table_new, missing);
    CKH_RESOLVE(handle, library, g_hash_table_insert, missing);
    CKH_RESOLVE(handle, library, g_hash_table_unref, missing);
    CKH_RESOLVE(handle, library, g_str_hash, missing);
    CKH_RESOLVE(handle, library, g_str_equal, missing);
    CKH_RESOLVE(handle, library, g_error_free, missing);
    CKH_RESOLVE(handle, library, g_quark_to_string, missing);
    CKH_RESOLVE(handle, library, g_list_append, missing);
    CKH_RESOLVE(handle, library, g_list_free, missing);
    CKH_RESOLVE(handle, library, g_free, missing);
    CKH_RESOLVE(handle, library, g_variant_new_string, missing);
    CKH_RESOLVE(handle, library, g_variant_new_tuple, missing);
    CKH_RESOLVE(handle, library, g_variant_get_child_value, missing);
    CKH_RESOLVE(handle, library, g_variant_n_children, missing);
    CKH_RESOLVE(handle, library, g_variant_get_boolean, missing);
    CKH_RESOLVE(handle, library, g_variant_get_string, missing);
    CKH_RESOLVE(handle, library, g_variant_get_variant, missing);
    CKH_RESOLVE(handle, library, g_variant_get_type_string, missing);
    CKH_RESOLVE(handle, library, g_variant_unref, missing);
    CKH_RESOLVE(handle, library, g_object_unref, missing);
    CKH_RESOLVE(handle, library, g_cancellable_new, missing);
    CKH_RESOLVE(handle, library, g_cancellable_cancel, missing);
    CKH_RESOLVE(handle, library, g_bus_get_sync, missing);
    CKH_RESOLVE(handle, library, g_dbus_connection_new_for_address_sync, missing);
    CKH_RESOLVE(handle, library, g_dbus_connection_close_sync, missing);
    CKH_RESOLVE(handle, library, g_dbus_connection_call_sync, missing);
    CKH_RESOLVE(handle, library, g_dbus_error_get_remote_error, missing);
    CKH_RESOLVE(handle, library, secret_password_storev_sync, missing);
    CKH_RESOLVE(handle, library, secret_password_lookupv_sync, missing);
    CKH_RESOLVE(handle, library, secret_password_clearv_sync, missing);
    CKH_RESOLVE(handle, library, secret_password_free, missing);
    CKH_RESOLVE(handle, library, secret_service_get_sync, missing);
    CKH_RESOLVE(handle, library, secret_collection_for_alias_sync, missing);
    CKH_RESOLVE(handle, library, secret_service_unlock_sync, missing);
    return missing;
}

const ckh_library *ckh_open(const char *library_name, char **error) {
    const char *name = library_name != NULL ? library_name : CKH_DEFAULT_LIBRARY;
    pthread_mutex_lock(&ckh_mutex);
    for (ckh_loaded *entry = ckh_loaded_list; entry != NULL; entry = entry->next) {
        if (strcmp(entry->name, name) == 0) {
            pthread_mutex_unlock(&ckh_mutex);
            return &entry->library;
        }
    }
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *reason = dlerror();
        char message[512];
        snprintf(message, sizeof message, "cannot load %s: %s", name, reason != NULL ? reason : "unknown error");
        ckh_set_error(error, message);
        pthread_mutex_unlock(&ckh_mutex);
        return NULL;
    }
    ckh_loaded *entry = calloc(1, sizeof *entry);
    if (entry == NULL) {
        ckh_set_error(error, "out of memory");
        pthread_mutex_unlock(&ckh_mutex);
        return NULL;
    }
    const char *missing = ckh_resolve_all(handle, &entry->library);
    if (missing != NULL) {
        char message[512];
        snprintf(message, sizeof message, "%s lacks the function %s (libsecret 0.18 or later is needed)", name,
                 missing);
        ckh_set_error(error, message);
        free(entry);
        /* The handle stays open: unloading glib from a process is not safe. */
        pthread_mutex_unlock(&ckh_mutex);
        return NULL;
    }
    entry->name = strdup(name);
    entry->next = ckh_loaded_list;
    ckh_loaded_list = entry;
    pthread_mutex_unlock(&ckh_mutex);
    return &entry->library;
}

static int ckh_starts_with(const char *string, const char *prefix) {
    return string != NULL && strncmp(string, prefix, strlen(prefix)) == 0;
}

ckh_status ckh_take_gerror(const ckh_library *library, ckh_gerror *gerror, int timed_out, char **error) {
    if (gerror == NULL) {
        ckh_set_error(error, timed_out ? "the Secret Service did not answer in time" : "unknown error");
        return timed_out ? CKH_TIMED_OUT : CKH_FAILED;
    }
    const char *domain = library->g_quark_to_string(gerror->domain);
    char *remote = library->g_dbus_error_get_remote_error(gerror);
    ckh_status status = CKH_FAILED;

    if (timed_out) {
        status = CKH_TIMED_OUT;
    } else if (remote != NULL) {
        if (strcmp(remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0
            || strcmp(remote, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0
            || ckh_starts_with(remote, "org.freedesktop.DBus.Error.Spawn.")) {
            status = CKH_NO_PROVIDER;
        } else if (strcmp(remote, "org.freedesktop.Secret.Error.IsLocked") == 0) {
            status = CKH_LOCKED;
        } else if (strcmp(remote, "org.freedesktop.DBus.Error.NoReply") == 0
                   || strcmp(remote, "org.freedesktop.DBus.Error.Timeout") == 0) {
            status = CKH_TIMED_OUT;
        }
    } else if (domain != NULL && strcmp(domain, "secret-error-quark") == 0) {
        if (gerror->code == CKH_SECRET_ERROR_IS_LOCKED) {
            status = CKH_LOCKED;
        }
    } else if (domain != NULL && strcmp(domain, "g-dbus-error-quark") == 0) {
        if (gerror->code == CKH_G_DBUS_ERROR_SERVICE_UNKNOWN || gerror->code == CKH_G_DBUS_ERROR_NAME_HAS_NO_OWNER) {
            status = CKH_NO_PROVIDER;
        } else if (gerror->code == CKH_G_DBUS_ERROR_NO_REPLY || gerror->code == CKH_G_DBUS_ERROR_TIMEOUT) {
            status = CKH_TIMED_OUT;
        }
    } else if (domain != NULL && strcmp(domain, "g-io-error-quark") == 0) {
        if (gerror->code == CKH_G_IO_ERROR_CANCELLED) {
            /* Nobody else holds our cancellable: a cancelled call without our deadline firing is a dismissed prompt. */
            status = CKH_DISMISSED;
        } else if (gerror->code == CKH_G_IO_ERROR_TIMED_OUT) {
            status = CKH_TIMED_OUT;
        }
    }
    ckh_set_error(error, gerror->message);
    if (remote != NULL) {
        library->g_free(remote);
    }
    library->g_error_free(gerror);
    return status;
}

static void *ckh_deadline_watch(void *argument) {
    ckh_deadline *deadline = argument;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long timeout_ms = deadline->timeout_ms;
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&deadline->mutex);
    while (!deadline->finished) {
        int result = pthread_cond_timedwait(&deadline->cond, &deadline->mutex, &until);
        if (result == ETIMEDOUT && !deadline->finished) {
            deadline->fired = 1;
            deadline->library->g_cancellable_cancel(deadline->cancellable);
            break;
        }
    }
    pthread_mutex_unlock(&deadline->mutex);
    return NULL;
}

void ckh_deadline_start(ckh_deadline *deadline, const ckh_library *library, int timeout_ms) {
    memset(deadline, 0, sizeof *deadline);
    deadline->library = library;
    deadline->cancellable = library->g_cancellable_new();
    pthread_mutex_init(&deadline->mutex, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&deadline->cond, &attributes);
    pthread_condattr_destroy(&attributes);
    deadline->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    /* Without a watchdog thread (resources exhausted) the call runs without a deadline rather than not at all. */
    deadline->started = pthread_create(&deadline->thread, NULL, ckh_deadline_watch, deadline) == 0;
}

int ckh_deadline_finish(ckh_deadline *deadline) {
    if (deadline->started) {
        pthread_mutex_lock(&deadline->mutex);
        deadline->finished = 1;
        pthread_cond_signal(&deadline->cond);
        pthread_mutex_unlock(&deadline->mutex);
        pthread_join(deadline->thread, NULL);
    }
    /* Read after the join: the watchdog no longer touches the struct. */
    int fired = deadline->fired;
    pthread_cond_destroy(&deadline->cond);
    pthread_mutex_destroy(&deadline->mutex);
    deadline->library->g_object_unref(deadline->cancellable);
    deadline->cancellable = NULL;
    return fired;
}
