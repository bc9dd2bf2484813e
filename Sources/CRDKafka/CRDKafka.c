#include "CRDKafka.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// One pointer per function of CRDK_FUNCTIONS, set by crdk_load.
#define CRDK_POINTER(ret, name, params, args) static ret(*bound_##name) params;
#define CRDK_POINTER_VOID(name, params, args) static void(*bound_##name) params;
CRDK_FUNCTIONS(CRDK_POINTER, CRDK_POINTER_VOID)

// The trampolines Swift calls.
#define CRDK_TRAMPOLINE(ret, name, params, args) \
    ret crdk_##name params { return bound_##name args; }
#define CRDK_TRAMPOLINE_VOID(name, params, args) \
    void crdk_##name params { bound_##name args; }
CRDK_FUNCTIONS(CRDK_TRAMPOLINE, CRDK_TRAMPOLINE_VOID)

// Not in CRDK_FUNCTIONS: it is variadic, and only crdk_produce calls it.
static int (*bound_producev)(rd_kafka_t *rk, ...);

// librdkafka's RD_KAFKA_VTYPE_* argument tags for rd_kafka_producev.
enum {
    VTYPE_END = 0,
    VTYPE_TOPIC = 1,
    VTYPE_PARTITION = 3,
    VTYPE_VALUE = 4,
    VTYPE_KEY = 5,
    VTYPE_OPAQUE = 6,
    VTYPE_MSGFLAGS = 7,
    VTYPE_TIMESTAMP = 8,
    VTYPE_HEADERS = 10,
};
enum { MSG_F_COPY = 0x2 };

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static void *loaded_library;
static atomic_int loaded;

int crdk_is_loaded(void) { return atomic_load(&loaded); }

static int bind_all(void *library, char *errstr, size_t errstr_size) {
    void *symbol;
#define CRDK_BIND(name)                                                                             \
    symbol = dlsym(library, "rd_kafka_" #name);                                                     \
    if (symbol == NULL) {                                                                           \
        snprintf(errstr, errstr_size, "the librdkafka found has no rd_kafka_" #name                 \
                 ": librdkafka 2.2.0 or newer is needed");                                          \
        return 2;                                                                                   \
    }                                                                                               \
    memcpy(&bound_##name, &symbol, sizeof symbol);
#define CRDK_BIND_FUNCTION(ret, name, params, args) CRDK_BIND(name)
#define CRDK_BIND_VOID(name, params, args) CRDK_BIND(name)
    CRDK_FUNCTIONS(CRDK_BIND_FUNCTION, CRDK_BIND_VOID)
    CRDK_BIND(producev)
#undef CRDK_BIND
    return 0;
}

int crdk_load(const char *path, char *errstr, size_t errstr_size) {
    pthread_mutex_lock(&load_lock);
    if (path == NULL && loaded_library != NULL) {
        pthread_mutex_unlock(&load_lock);
        return 0;
    }
    const char *name = path != NULL ? path : "librdkafka.so.1";
    void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(errstr, errstr_size, "cannot open librdkafka (%s): %s", name, reason != NULL ? reason : "unknown reason");
        pthread_mutex_unlock(&load_lock);
        return 1;
    }
    if (library == loaded_library) {
        dlclose(library); // dlopen counted one more reference to the library bound already
        pthread_mutex_unlock(&load_lock);
        return 0;
    }
    int (*version)(void) = NULL;
    const char *(*version_str)(void) = NULL;
    void *symbol = dlsym(library, "rd_kafka_version");
    memcpy(&version, &symbol, sizeof symbol);
    symbol = dlsym(library, "rd_kafka_version_str");
    memcpy(&version_str, &symbol, sizeof symbol);
    if (version == NULL || version_str == NULL) {
        snprintf(errstr, errstr_size, "%s is not librdkafka: it has no rd_kafka_version", name);
        dlclose(library);
        pthread_mutex_unlock(&load_lock);
        return 1;
    }
    if (version() < CRDK_MINIMUM_VERSION) {
        snprintf(errstr, errstr_size, "%s is librdkafka %s, older than 2.2.0, the oldest that reads every broker's replies correctly",
                 name, version_str());
        dlclose(library);
        pthread_mutex_unlock(&load_lock);
        return 3;
    }
    if (loaded_library != NULL) {
        snprintf(errstr, errstr_size, "%s is a second librdkafka (%s): the process uses librdkafka %s already, and one at a time",
                 name, version_str(), bound_version_str());
        dlclose(library);
        pthread_mutex_unlock(&load_lock);
        return 4;
    }
    int status = bind_all(library, errstr, errstr_size);
    if (status != 0) {
        dlclose(library);
    } else {
        loaded_library = library;
        atomic_store(&loaded, 1);
    }
    pthread_mutex_unlock(&load_lock);
    return status;
}

struct crdk_context {
    pthread_mutex_t lock;
    int last_error;
    char last_reason[512];
};

crdk_context *crdk_context_new(void) {
    crdk_context *context = calloc(1, sizeof *context);
    if (context != NULL) pthread_mutex_init(&context->lock, NULL);
    return context;
}

void crdk_context_free(crdk_context *context) {
    if (context == NULL) return;
    pthread_mutex_destroy(&context->lock);
    free(context);
}

void crdk_context_set_error(crdk_context *context, int err, const char *reason) {
    pthread_mutex_lock(&context->lock);
    context->last_error = err;
    snprintf(context->last_reason, sizeof context->last_reason, "%s", reason != NULL ? reason : "");
    pthread_mutex_unlock(&context->lock);
}

int crdk_context_last_error(crdk_context *context, char *buffer, size_t size) {
    pthread_mutex_lock(&context->lock);
    int err = context->last_error;
    snprintf(buffer, size, "%s", context->last_reason);
    pthread_mutex_unlock(&context->lock);
    return err;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    crdk_context_set_error(opaque, err, reason);
}

struct crdk_batch;

// A record's report slot: the report's fields, and the batch it belongs to (the message's opaque
// points here).
typedef struct delivery_slot {
    crdk_delivery delivery;
    struct crdk_batch *batch;
} delivery_slot;

struct crdk_batch {
    size_t count;
    // Reports still to come, plus one held by whoever enqueues until crdk_batch_seal.
    atomic_size_t pending;
    void (*completion)(void *context);
    void *context;
    crdk_delivery *deliveries;
    delivery_slot *slots;
};

static void batch_release(crdk_batch *batch, size_t count) {
    if (atomic_fetch_sub(&batch->pending, count) == count) batch->completion(batch->context);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk;
    (void)opaque;
    delivery_slot *slot = message->_private;
    if (slot == NULL) return;
    slot->delivery.err = message->err;
    slot->delivery.partition = message->partition;
    slot->delivery.offset = message->offset;
    batch_release(slot->batch, 1);
}

void crdk_conf_use_context(rd_kafka_conf_t *conf, crdk_context *context, int producer) {
    bound_conf_set_opaque(conf, context);
    bound_conf_set_error_cb(conf, on_error);
    if (producer) bound_conf_set_dr_msg_cb(conf, on_delivery);
}

crdk_batch *crdk_batch_new(size_t count, void (*completion)(void *context), void *context) {
    crdk_batch *batch = calloc(1, sizeof *batch);
    if (batch == NULL) return NULL;
    batch->slots = calloc(count > 0 ? count : 1, sizeof *batch->slots);
    batch->deliveries = calloc(count > 0 ? count : 1, sizeof *batch->deliveries);
    if (batch->slots == NULL || batch->deliveries == NULL) {
        free(batch->slots);
        free(batch->deliveries);
        free(batch);
        return NULL;
    }
    batch->count = count;
    atomic_init(&batch->pending, count + 1);
    batch->completion = completion;
    batch->context = context;
    for (size_t index = 0; index < count; index++) batch->slots[index].batch = batch;
    return batch;
}

void crdk_batch_seal(crdk_batch *batch, size_t enqueued) {
    batch_release(batch, batch->count - enqueued + 1);
}

const crdk_delivery *crdk_batch_deliveries(const crdk_batch *batch) {
    for (size_t index = 0; index < batch->count; index++) batch->deliveries[index] = batch->slots[index].delivery;
    return batch->deliveries;
}

void crdk_batch_free(crdk_batch *batch) {
    if (batch == NULL) return;
    free(batch->slots);
    free(batch->deliveries);
    free(batch);
}

int crdk_produce(rd_kafka_t *rk, crdk_batch *batch, size_t index, const char *topic, int32_t partition,
                 int key_present, const void *key, size_t key_len, int value_present, const void *value,
                 size_t value_len, int64_t timestamp,
                 const char *const *header_names, const void *const *header_values, const size_t *header_sizes,
                 size_t header_count) {
    static const char empty[1] = "";
    if (!key_present) {
        key = NULL;
        key_len = 0;
    } else if (key == NULL) {
        key = empty;
    }
    if (!value_present) {
        value = NULL;
        value_len = 0;
    } else if (value == NULL) {
        value = empty;
    }
    rd_kafka_headers_t *headers = bound_headers_new(header_count);
    for (size_t i = 0; i < header_count; i++) {
        const void *header_value = header_values[i] != NULL ? header_values[i] : empty;
        bound_header_add(headers, header_names[i], -1, header_value, (ssize_t)header_sizes[i]);
    }
    int err = bound_producev(rk, VTYPE_TOPIC, topic, VTYPE_PARTITION, partition, VTYPE_KEY, key, key_len,
                             VTYPE_VALUE, value, value_len, VTYPE_TIMESTAMP, timestamp, VTYPE_MSGFLAGS, MSG_F_COPY,
                             VTYPE_OPAQUE, (void *)&batch->slots[index], VTYPE_HEADERS, headers, VTYPE_END);
    // On success the message owns the headers; on failure they are still ours.
    if (err != 0) bound_headers_destroy(headers);
    return err;
}
