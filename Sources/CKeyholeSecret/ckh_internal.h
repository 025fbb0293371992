#ifndef CKH_INTERNAL_H
#define CKH_INTERNAL_H

/*
 * Minimal stand-ins for the glib, gio and libsecret declarations the shim uses. They mirror the ABI of
 * glib 2.x and libsecret 0.18+ (only opaque pointers, ints and the public SecretSchema layout) so that no
 * header of those libraries is needed at build time.
 */

#include "CKeyholeSecret.h"

#include <pthread.h>
#include <stdint.h>

typedef int ckh_gboolean;
typedef uint32_t ckh_gquark;

/// GError's public layout.
typedef struct ckh_gerror {
    ckh_gquark domain;
    int code;
    char *message;
} ckh_gerror;

/// GList's public layout.
typedef struct ckh_glist {
    void *data;
    struct ckh_glist *next;
    struct ckh_glist *prev;
} ckh_glist;

/// SecretSchemaAttribute and SecretSchema, public and stable since libsecret 0.7.
typedef struct ckh_schema_attribute {
    const char *name;
    int type; /* SECRET_SCHEMA_ATTRIBUTE_STRING = 0 */
} ckh_schema_attribute;

typedef struct ckh_schema {
    const char *name;
    int flags; /* SECRET_SCHEMA_NONE = 0 */
    ckh_schema_attribute attributes[32];
    int reserved;
    void *reserved1;
    void *reserved2;
    void *reserved3;
    void *reserved4;
    void *reserved5;
    void *reserved6;
    void *reserved7;
} ckh_schema;

enum {
    CKH_G_BUS_TYPE_SESSION = 2,
    CKH_G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT = 1 << 0,
    CKH_G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION = 1 << 3,
    CKH_G_DBUS_CALL_FLAGS_NONE = 0,
    CKH_G_DBUS_CALL_FLAGS_NO_AUTO_START = 1 << 0,
    CKH_G_IO_ERROR_CANCELLED = 19,
    CKH_G_IO_ERROR_TIMED_OUT = 24,
    CKH_G_DBUS_ERROR_SERVICE_UNKNOWN = 2,
    CKH_G_DBUS_ERROR_NAME_HAS_NO_OWNER = 3,
    CKH_G_DBUS_ERROR_NO_REPLY = 4,
    CKH_G_DBUS_ERROR_TIMEOUT = 12,
    CKH_SECRET_ERROR_IS_LOCKED = 2,
    CKH_SECRET_SERVICE_NONE = 0,
    CKH_SECRET_COLLECTION_NONE = 0,
};

struct ckh_library {
    /* glib */
    void *(*g_hash_table_new)(unsigned (*hash)(const void *), ckh_gboolean (*equal)(const void *, const void *));
    ckh_gboolean (*g_hash_table_insert)(void *table, void *key, void *value);
    void (*g_hash_table_unref)(void *table);
    unsigned (*g_str_hash)(const void *);
    ckh_gboolean (*g_str_equal)(const void *, const void *);
    void (*g_error_free)(ckh_gerror *error);
    const char *(*g_quark_to_string)(ckh_gquark quark);
    ckh_glist *(*g_list_append)(ckh_glist *list, void *data);
    void (*g_list_free)(ckh_glist *list);
    void (*g_free)(void *memory);
    void *(*g_variant_new_string)(const char *string);
    void *(*g_variant_new_tuple)(void *const *children, size_t count);
    void *(*g_variant_get_child_value)(void *value, size_t index);
    size_t (*g_variant_n_children)(void *value);
    ckh_gboolean (*g_variant_get_boolean)(void *value);
    const char *(*g_variant_get_string)(void *value, size_t *length);
    void *(*g_variant_get_variant)(void *value);
    const char *(*g_variant_get_type_string)(void *value);
    void (*g_variant_unref)(void *value);
    /* gobject */
    void (*g_object_unref)(void *object);
    /* gio */
    void *(*g_cancellable_new)(void);
    void (*g_cancellable_cancel)(void *cancellable);
    void *(*g_bus_get_sync)(int bus_type, void *cancellable, ckh_gerror **error);
    void *(*g_dbus_connection_new_for_address_sync)(const char *address, int flags, void *observer,
                                                     void *cancellable, ckh_gerror **error);
    ckh_gboolean (*g_dbus_connection_close_sync)(void *connection, void *cancellable, ckh_gerror **error);
    void *(*g_dbus_connection_call_sync)(void *connection, const char *bus_name, const char *object_path,
                                         const char *interface_name, const char *method_name, void *parameters,
                                         const void *reply_type, int flags, int timeout_msec, void *cancellable,
                                         ckh_gerror **error);
    char *(*g_dbus_error_get_remote_error)(const ckh_gerror *error);
    /* libsecret */
    ckh_gboolean (*secret_password_storev_sync)(const ckh_schema *schema, void *attributes, const char *collection,
                                                const char *label, const char *password, void *cancellable,
                                                ckh_gerror **error);
    char *(*secret_password_lookupv_sync)(const ckh_schema *schema, void *attributes, void *cancellable,
                                          ckh_gerror **error);
    ckh_gboolean (*secret_password_clearv_sync)(const ckh_schema *schema, void *attributes, void *cancellable,
                                                ckh_gerror **error);
    void (*secret_password_free)(char *password);
    void *(*secret_service_get_sync)(int flags, void *cancellable, ckh_gerror **error);
    void *(*secret_collection_for_alias_sync)(void *service, const char *alias, int flags, void *cancellable,
                                              ckh_gerror **error);
    int (*secret_service_unlock_sync)(void *service, ckh_glist *objects, void *cancellable, ckh_glist **unlocked,
                                      ckh_gerror **error);
};

/// Serialises every call into glib/libsecret made by the shim.
extern pthread_mutex_t ckh_mutex;

/// A copy of `message` for the caller (malloc'd), or NULL.
char *ckh_strdup(const char *message);

/// Sets `*error` (when non-NULL) to a malloc'd copy of `message`.
void ckh_set_error(char **error, const char *message);

/// Maps a GError to a status, sets `*error` to its message, and frees it.
ckh_status ckh_take_gerror(const ckh_library *library, ckh_gerror *gerror, int timed_out, char **error);

/// A deadline for one blocking call: a watchdog thread cancels `cancellable` when it passes.
typedef struct ckh_deadline {
    const ckh_library *library;
    void *cancellable;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    long timeout_ms;
    int started;
    int finished;
    int fired;
} ckh_deadline;

/// Starts the watchdog; `deadline->cancellable` is then the cancellable to pass to the call(s).
void ckh_deadline_start(ckh_deadline *deadline, const ckh_library *library, int timeout_ms);

/// Stops the watchdog and releases the cancellable. Returns whether the deadline passed (the call was cancelled).
int ckh_deadline_finish(ckh_deadline *deadline);

#endif
