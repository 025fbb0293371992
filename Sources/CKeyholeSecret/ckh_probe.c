/* The fast availability probe: is `org.freedesktop.secrets` owned or activatable on a given bus? */

#include "ckh_internal.h"

#include <string.h>

static const char *const ckh_secrets_name = "org.freedesktop.secrets";

/// Calls a method of the bus daemon that takes no argument or one string; returns the reply or NULL.
static void *ckh_bus_call(const ckh_library *library, void *connection, const char *method, const char *argument,
                          int timeout_ms, void *cancellable, ckh_gerror **gerror) {
    void *parameters = NULL;
    if (argument != NULL) {
        void *child = library->g_variant_new_string(argument);
        parameters = library->g_variant_new_tuple(&child, 1);
    }
    return library->g_dbus_connection_call_sync(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                "org.freedesktop.DBus", method, parameters, NULL,
                                                CKH_G_DBUS_CALL_FLAGS_NONE, timeout_ms, cancellable, gerror);
}

static int ckh_name_has_owner(const ckh_library *library, void *connection, int timeout_ms, void *cancellable,
                              ckh_gerror **gerror) {
    void *reply = ckh_bus_call(library, connection, "NameHasOwner", ckh_secrets_name, timeout_ms, cancellable,
                               gerror);
    if (reply == NULL) {
        return 0;
    }
    int owned = 0;
    if (strcmp(library->g_variant_get_type_string(reply), "(b)") == 0) {
        void *value = library->g_variant_get_child_value(reply, 0);
        owned = library->g_variant_get_boolean(value) != 0;
        library->g_variant_unref(value);
    }
    library->g_variant_unref(reply);
    return owned;
}

static int ckh_name_is_activatable(const ckh_library *library, void *connection, int timeout_ms, void *cancellable,
                                   ckh_gerror **gerror) {
    void *reply = ckh_bus_call(library, connection, "ListActivatableNames", NULL, timeout_ms, cancellable, gerror);
    if (reply == NULL) {
        return 0;
    }
    int activatable = 0;
    if (strcmp(library->g_variant_get_type_string(reply), "(as)") == 0) {
        void *names = library->g_variant_get_child_value(reply, 0);
        size_t count = library->g_variant_n_children(names);
        for (size_t index = 0; index < count && !activatable; index++) {
            void *name = library->g_variant_get_child_value(names, index);
            activatable = strcmp(library->g_variant_get_string(name, NULL), ckh_secrets_name) == 0;
            library->g_variant_unref(name);
        }
        library->g_variant_unref(names);
    }
    library->g_variant_unref(reply);
    return activatable;
}

int ckh_service_offered(const ckh_library *library, const char *bus_address, int timeout_ms, char **error) {
    if (library == NULL) {
        ckh_set_error(error, "libsecret is not loaded");
        return 0;
    }
    if (bus_address == NULL || bus_address[0] == '\0') {
        ckh_set_error(error, "no session bus address");
        return 0;
    }
    /* No ckh_mutex: this uses a private connection and touches no libsecret state, so it never waits behind a
       prompt that another thread is showing. */
    ckh_deadline deadline;
    ckh_deadline_start(&deadline, library, timeout_ms);
    ckh_gerror *gerror = NULL;
    int offered = 0;
    void *connection = library->g_dbus_connection_new_for_address_sync(
        bus_address,
        CKH_G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | CKH_G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, deadline.cancellable, &gerror);
    if (connection != NULL) {
        offered = ckh_name_has_owner(library, connection, timeout_ms, deadline.cancellable, &gerror);
        if (!offered && gerror == NULL) {
            offered = ckh_name_is_activatable(library, connection, timeout_ms, deadline.cancellable, &gerror);
        }
        library->g_dbus_connection_close_sync(connection, NULL, NULL);
        library->g_object_unref(connection);
    }
    int fired = ckh_deadline_finish(&deadline);
    if (fired) {
        if (gerror != NULL) {
            library->g_error_free(gerror);
        }
        ckh_set_error(error, "the session bus did not answer in time");
        offered = 0;
    } else if (gerror != NULL) {
        (void)ckh_take_gerror(library, gerror, 0, error);
    } else if (!offered) {
        ckh_set_error(error, "nobody owns org.freedesktop.secrets on the session bus and it is not activatable");
    }
    return offered;
}
