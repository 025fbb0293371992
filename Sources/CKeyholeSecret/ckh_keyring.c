/* Store, look up and clear items of the schema dev.keyhole.Credential in the default collection. */

#include "ckh_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const ckh_schema ckh_credential_schema = {
    .name = "dev.keyhole.Credential",
    .flags = 0,
    .attributes = {
        {"service", 0},
        {"name", 0},
        {NULL, 0},
    },
};

static const char *const ckh_service_attribute = "keyhole";

/// `service=keyhole`, `name=NAME`; keys and values are borrowed, so only the table is freed.
static void *ckh_attributes(const ckh_library *library, const char *name) {
    void *table = library->g_hash_table_new(library->g_str_hash, library->g_str_equal);
    library->g_hash_table_insert(table, (void *)"service", (void *)ckh_service_attribute);
    library->g_hash_table_insert(table, (void *)"name", (void *)name);
    return table;
}

/// gio would try to autolaunch a bus (and may spawn dbus-launch) when it finds no address; refuse instead.
static int ckh_session_bus_configured(void) {
    const char *address = getenv("DBUS_SESSION_BUS_ADDRESS");
    if (address != NULL && address[0] != '\0') {
        return 1;
    }
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (runtime == NULL || runtime[0] != '/') {
        return 0;
    }
    size_t length = strlen(runtime) + sizeof "/bus";
    char *path = malloc(length);
    if (path == NULL) {
        return 0;
    }
    strcpy(path, runtime);
    strcat(path, "/bus");
    int exists = access(path, F_OK) == 0;
    free(path);
    return exists;
}

static void *ckh_secrets_call(const ckh_library *library, void *connection, const char *path,
                              const char *interface, const char *method, const char *first, const char *second,
                              int timeout_ms, void *cancellable, ckh_gerror **gerror) {
    void *children[2];
    size_t count = 0;
    if (first != NULL) {
        children[count++] = library->g_variant_new_string(first);
    }
    if (second != NULL) {
        children[count++] = library->g_variant_new_string(second);
    }
    void *parameters = library->g_variant_new_tuple(children, count);
    return library->g_dbus_connection_call_sync(connection, "org.freedesktop.secrets", path, interface, method,
                                                parameters, NULL, CKH_G_DBUS_CALL_FLAGS_NONE, timeout_ms,
                                                cancellable, gerror);
}

/// Reads the default alias and that collection's Locked property with plain D-Bus calls, so the answer is never
/// a stale property cached in a libsecret proxy. Call with ckh_mutex held.
static ckh_status ckh_read_state(const ckh_library *library, ckh_collection *state, int timeout_ms,
                                 void *cancellable, char **error) {
    if (!ckh_session_bus_configured()) {
        ckh_set_error(error, "no session bus (DBUS_SESSION_BUS_ADDRESS is not set)");
        return CKH_NO_PROVIDER;
    }
    ckh_gerror *gerror = NULL;
    void *connection = library->g_bus_get_sync(CKH_G_BUS_TYPE_SESSION, cancellable, &gerror);
    if (connection == NULL) {
        ckh_status status = ckh_take_gerror(library, gerror, 0, error);
        return status == CKH_FAILED ? CKH_NO_PROVIDER : status;
    }
    ckh_status status = CKH_FAILED;
    void *reply = ckh_secrets_call(library, connection, "/org/freedesktop/secrets", "org.freedesktop.Secret.Service",
                                   "ReadAlias", "default", NULL, timeout_ms, cancellable, &gerror);
    if (reply == NULL) {
        status = ckh_take_gerror(library, gerror, 0, error);
    } else if (strcmp(library->g_variant_get_type_string(reply), "(o)") != 0) {
        ckh_set_error(error, "unexpected reply to ReadAlias");
        library->g_variant_unref(reply);
    } else {
        void *child = library->g_variant_get_child_value(reply, 0);
        char *path = ckh_strdup(library->g_variant_get_string(child, NULL));
        library->g_variant_unref(child);
        library->g_variant_unref(reply);
        if (path == NULL) {
            ckh_set_error(error, "out of memory");
        } else if (strcmp(path, "/") == 0) {
            *state = CKH_COLLECTION_MISSING;
            status = CKH_OK;
        } else {
            reply = ckh_secrets_call(library, connection, path, "org.freedesktop.DBus.Properties", "Get",
                                     "org.freedesktop.Secret.Collection", "Locked", timeout_ms, cancellable, &gerror);
            if (reply == NULL) {
                status = ckh_take_gerror(library, gerror, 0, error);
            } else {
                void *boxed = strcmp(library->g_variant_get_type_string(reply), "(v)") == 0
                                  ? library->g_variant_get_child_value(reply, 0)
                                  : NULL;
                void *value = boxed != NULL ? library->g_variant_get_variant(boxed) : NULL;
                if (value != NULL && strcmp(library->g_variant_get_type_string(value), "b") == 0) {
                    *state = library->g_variant_get_boolean(value) ? CKH_COLLECTION_LOCKED : CKH_COLLECTION_UNLOCKED;
                    status = CKH_OK;
                } else {
                    ckh_set_error(error, "unexpected type of the collection's Locked property");
                }
                if (value != NULL) {
                    library->g_variant_unref(value);
                }
                if (boxed != NULL) {
                    library->g_variant_unref(boxed);
                }
                library->g_variant_unref(reply);
            }
        }
        free(path);
    }
    library->g_object_unref(connection);
    return status;
}

/// Reads the state and turns "locked" into CKH_LOCKED with a message.
static ckh_status ckh_require_unlocked(const ckh_library *library, ckh_collection *state, int timeout_ms,
                                       void *cancellable, char **error) {
    ckh_status status = ckh_read_state(library, state, timeout_ms, cancellable, error);
    if (status == CKH_OK && *state == CKH_COLLECTION_LOCKED) {
        ckh_set_error(error, "the default keyring collection is locked");
        return CKH_LOCKED;
    }
    return status;
}

static ckh_status ckh_finish(ckh_deadline *deadline, ckh_status status, char **error) {
    int fired = ckh_deadline_finish(deadline);
    if (fired && status != CKH_OK) {
        ckh_set_error(error, "the Secret Service did not answer in time");
        return CKH_TIMED_OUT;
    }
    return status;
}

ckh_status ckh_collection_state(const ckh_library *library, ckh_collection *state, int timeout_ms, char **error) {
    if (library == NULL) {
        ckh_set_error(error, "libsecret is not loaded");
        return CKH_LIBSECRET_MISSING;
    }
    pthread_mutex_lock(&ckh_mutex);
    ckh_deadline deadline;
    ckh_deadline_start(&deadline, library, timeout_ms);
    ckh_status status = ckh_read_state(library, state, timeout_ms, deadline.cancellable, error);
    status = ckh_finish(&deadline, status, error);
    pthread_mutex_unlock(&ckh_mutex);
    return status;
}

ckh_status ckh_unlock_default(const ckh_library *library, int timeout_ms, char **error) {
    if (library == NULL) {
        ckh_set_error(error, "libsecret is not loaded");
        return CKH_LIBSECRET_MISSING;
    }
    pthread_mutex_lock(&ckh_mutex);
    ckh_deadline deadline;
    ckh_deadline_start(&deadline, library, timeout_ms);
    ckh_gerror *gerror = NULL;
    ckh_status status = CKH_FAILED;
    void *service = library->secret_service_get_sync(CKH_SECRET_SERVICE_NONE, deadline.cancellable, &gerror);
    void *collection = NULL;
    if (service != NULL) {
        collection = library->secret_collection_for_alias_sync(service, "default", CKH_SECRET_COLLECTION_NONE,
                                                               deadline.cancellable, &gerror);
    }
    if (gerror != NULL) {
        status = ckh_take_gerror(library, gerror, 0, error);
    } else if (collection == NULL) {
        ckh_set_error(error, "the keyring has no default collection");
        status = CKH_NO_COLLECTION;
    } else {
        ckh_glist *objects = library->g_list_append(NULL, collection);
        (void)library->secret_service_unlock_sync(service, objects, deadline.cancellable, NULL, &gerror);
        library->g_list_free(objects);
        if (gerror != NULL) {
            status = ckh_take_gerror(library, gerror, 0, error);
        } else {
            ckh_collection state = CKH_COLLECTION_LOCKED;
            status = ckh_read_state(library, &state, timeout_ms, deadline.cancellable, error);
            if (status == CKH_OK && state == CKH_COLLECTION_LOCKED) {
                ckh_set_error(error, "the unlock prompt was dismissed or could not be shown");
                status = CKH_DISMISSED;
            }
        }
    }
    if (collection != NULL) {
        library->g_object_unref(collection);
    }
    if (service != NULL) {
        library->g_object_unref(service);
    }
    status = ckh_finish(&deadline, status, error);
    pthread_mutex_unlock(&ckh_mutex);
    return status;
}

ckh_status ckh_store(const ckh_library *library, const char *name, const char *label, const char *secret,
                     int timeout_ms, char **error) {
    if (library == NULL) {
        ckh_set_error(error, "libsecret is not loaded");
        return CKH_LIBSECRET_MISSING;
    }
    pthread_mutex_lock(&ckh_mutex);
    ckh_deadline deadline;
    ckh_deadline_start(&deadline, library, timeout_ms);
    ckh_collection state = CKH_COLLECTION_LOCKED;
    ckh_status status = ckh_require_unlocked(library, &state, timeout_ms, deadline.cancellable, error);
    if (status == CKH_OK) {
        void *attributes = ckh_attributes(library, name);
        ckh_gerror *gerror = NULL;
        /* "default" is the alias; libsecret creates the default collection when there is none (it may prompt). */
        if (!library->secret_password_storev_sync(&ckh_credential_schema, attributes, "default", label, secret,
                                                  deadline.cancellable, &gerror)) {
            status = ckh_take_gerror(library, gerror, 0, error);
            if (state == CKH_COLLECTION_MISSING && (status == CKH_FAILED || status == CKH_DISMISSED)) {
                ckh_set_error(error, "the keyring has no default collection, and creating one needs a prompt that "
                                     "was dismissed or could not be shown");
                status = CKH_NO_COLLECTION;
            }
        }
        library->g_hash_table_unref(attributes);
    }
    status = ckh_finish(&deadline, status, error);
    pthread_mutex_unlock(&ckh_mutex);
    return status;
}

ckh_status ckh_lookup(const ckh_library *library, const char *name, char **secret, int timeout_ms, char **error) {
    *secret = NULL;
    if (library == NULL) {
        ckh_set_error(error, "libsecret is not loaded");
        return CKH_LIBSECRET_MISSING;
    }
    pthread_mutex_lock(&ckh_mutex);
    ckh_deadline deadline;
    ckh_deadline_start(&deadline, library, timeout_ms);
    ckh_collection state = CKH_COLLECTION_LOCKED;
    ckh_status status = ckh_require_unlocked(library, &state, timeout_ms, deadline.cancellable, error);
    if (status == CKH_OK) {
        void *attributes = ckh_attributes(library, name);
        ckh_gerror *gerror = NULL;
        char *value = library->secret_password_lookupv_sync(&ckh_credential_schema, attributes, deadline.cancellable,
                                                            &gerror);
        library->g_hash_table_unref(attributes);
        if (value != NULL) {
            *secret = ckh_strdup(value);
            library->secret_password_free(value);
            if (*secret == NULL) {
                ckh_set_error(error, "out of memory");
                status = CKH_FAILED;
            }
        } else if (gerror != NULL) {
            status = ckh_take_gerror(library, gerror, 0, error);
        } else {
            /* An empty answer is only trusted while the collection is still unlocked: a lookup in a locked
               collection also answers nothing. */
            status = ckh_require_unlocked(library, &state, timeout_ms, deadline.cancellable, error);
            if (status == CKH_OK) {
                ckh_set_error(error, "no such item in the keyring");
                status = CKH_NOT_FOUND;
            }
        }
    }
    status = ckh_finish(&deadline, status, error);
    if (status != CKH_OK && *secret != NULL) {
        ckh_free_secret(*secret);
        *secret = NULL;
    }
    pthread_mutex_unlock(&ckh_mutex);
    return status;
}

ckh_status ckh_clear(const ckh_library *library, const char *name, int timeout_ms, char **error) {
    if (library == NULL) {
        ckh_set_error(error, "libsecret is not loaded");
        return CKH_LIBSECRET_MISSING;
    }
    pthread_mutex_lock(&ckh_mutex);
    ckh_deadline deadline;
    ckh_deadline_start(&deadline, library, timeout_ms);
    ckh_collection state = CKH_COLLECTION_LOCKED;
    ckh_status status = ckh_require_unlocked(library, &state, timeout_ms, deadline.cancellable, error);
    if (status == CKH_OK) {
        void *attributes = ckh_attributes(library, name);
        ckh_gerror *gerror = NULL;
        /* FALSE without an error means nothing matched, which is fine. */
        if (!library->secret_password_clearv_sync(&ckh_credential_schema, attributes, deadline.cancellable,
                                                  &gerror)
            && gerror != NULL) {
            status = ckh_take_gerror(library, gerror, 0, error);
        }
        library->g_hash_table_unref(attributes);
    }
    status = ckh_finish(&deadline, status, error);
    pthread_mutex_unlock(&ckh_mutex);
    return status;
}
