// The part of librdkafka's C API that KafkaClient uses, declared here and bound at run time.
//
// Nothing links against librdkafka: `crdk_load` opens it with dlopen and looks up every function
// listed in CRDK_FUNCTIONS below; each `crdk_NAME` calls librdkafka's `rd_kafka_NAME`. The structs
// whose fields are read directly are the public ones of librdkafka's stable ABI; every other type
// is opaque. Enums are passed as `int`, which is how the C ABI passes them.
#ifndef CRDKAFKA_H
#define CRDKAFKA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_headers_s rd_kafka_headers_t;
typedef struct rd_kafka_error_s rd_kafka_error_t;
typedef struct rd_kafka_op_s rd_kafka_event_t;
typedef struct rd_kafka_AdminOptions_s rd_kafka_AdminOptions_t;
typedef struct rd_kafka_NewTopic_s rd_kafka_NewTopic_t;
typedef struct rd_kafka_DeleteTopic_s rd_kafka_DeleteTopic_t;
typedef struct rd_kafka_ConfigResource_s rd_kafka_ConfigResource_t;
typedef struct rd_kafka_ConfigEntry_s rd_kafka_ConfigEntry_t;
typedef struct rd_kafka_topic_result_s rd_kafka_topic_result_t;
/// An admin result (CreateTopics, DeleteTopics, DescribeConfigs): librdkafka hands out the event itself.
typedef rd_kafka_event_t rd_kafka_admin_result_t;

/// A fetched message, or a produced one in a delivery report.
typedef struct rd_kafka_message_s {
    int err;                 ///< 0, or the error (the payload is then the error text).
    rd_kafka_topic_t *rkt;
    int32_t partition;
    void *payload;
    size_t len;
    void *key;
    size_t key_len;
    int64_t offset;
    void *_private;          ///< Producer: the per-message opaque given to produce.
} rd_kafka_message_t;

/// One partition of a partition list, with an offset and a per-partition error.
typedef struct rd_kafka_topic_partition_s {
    char *topic;
    int32_t partition;
    int64_t offset;
    void *metadata;
    size_t metadata_size;
    void *opaque;
    int err;
    void *_private;
} rd_kafka_topic_partition_t;

typedef struct rd_kafka_topic_partition_list_s {
    int cnt;
    int size;
    rd_kafka_topic_partition_t *elems;
} rd_kafka_topic_partition_list_t;

typedef struct rd_kafka_metadata_broker {
    int32_t id;
    char *host;
    int port;
} rd_kafka_metadata_broker_t;

typedef struct rd_kafka_metadata_partition {
    int32_t id;
    int err;
    int32_t leader;
    int replica_cnt;
    int32_t *replicas;
    int isr_cnt;
    int32_t *isrs;
} rd_kafka_metadata_partition_t;

typedef struct rd_kafka_metadata_topic {
    char *topic;
    int partition_cnt;
    rd_kafka_metadata_partition_t *partitions;
    int err;
} rd_kafka_metadata_topic_t;

typedef struct rd_kafka_metadata {
    int broker_cnt;
    rd_kafka_metadata_broker_t *brokers;
    int topic_cnt;
    rd_kafka_metadata_topic_t *topics;
    int32_t orig_broker_id;
    char *orig_broker_name;
} rd_kafka_metadata_t;

#define CRDK_PRODUCER 0
#define CRDK_CONSUMER 1
#define CRDK_CONF_OK 0
#define CRDK_PARTITION_UA (-1)
#define CRDK_OFFSET_BEGINNING (-2)
#define CRDK_OFFSET_END (-1)
#define CRDK_OFFSET_INVALID (-1001)
#define CRDK_ADMIN_OP_ANY 0
#define CRDK_RESOURCE_TOPIC 2
#define CRDK_EVENT_CREATETOPICS_RESULT 100
#define CRDK_EVENT_DELETETOPICS_RESULT 101
#define CRDK_EVENT_DESCRIBECONFIGS_RESULT 104
#define CRDK_PURGE_QUEUE 0x1
#define CRDK_PURGE_INFLIGHT 0x2

/// Error codes of librdkafka used by name (negative ones are the client's own, positive ones the broker's).
#define CRDK_ERR_NO_ERROR 0
#define CRDK_ERR_TRANSPORT (-195)
#define CRDK_ERR_MSG_TIMED_OUT (-192)
#define CRDK_ERR_PARTITION_EOF (-191)
#define CRDK_ERR_ALL_BROKERS_DOWN (-187)
#define CRDK_ERR_TIMED_OUT (-185)
#define CRDK_ERR_QUEUE_FULL (-184)
#define CRDK_ERR_UNKNOWN_TOPIC_OR_PART 3
#define CRDK_ERR_TOPIC_ALREADY_EXISTS 36

/// The oldest librdkafka accepted, 2.2.0 (rd_kafka_version's 0xMMmmrrxx form): older ones misread
/// the tagged fields of flexible-version responses (librdkafka PR #4278).
#define CRDK_MINIMUM_VERSION 0x020200ff

// Every function bound at run time: F(return type, name without rd_kafka_, parameters, arguments);
// V(...) for functions that return nothing.
#define CRDK_FUNCTIONS(F, V) \
    F(int, version, (void), ()) \
    F(const char *, version_str, (void), ()) \
    F(const char *, err2str, (int err), (err)) \
    F(const char *, err2name, (int err), (err)) \
    F(rd_kafka_conf_t *, conf_new, (void), ()) \
    V(conf_destroy, (rd_kafka_conf_t *conf), (conf)) \
    F(int, conf_set, (rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr, size_t errstr_size), \
        (conf, name, value, errstr, errstr_size)) \
    V(conf_set_opaque, (rd_kafka_conf_t *conf, void *opaque), (conf, opaque)) \
    V(conf_set_dr_msg_cb, (rd_kafka_conf_t *conf, void (*cb)(rd_kafka_t *, const rd_kafka_message_t *, void *)), (conf, cb)) \
    V(conf_set_error_cb, (rd_kafka_conf_t *conf, void (*cb)(rd_kafka_t *, int, const char *, void *)), (conf, cb)) \
    F(rd_kafka_t *, new, (int type, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size), (type, conf, errstr, errstr_size)) \
    V(destroy, (rd_kafka_t *rk), (rk)) \
    F(int, poll, (rd_kafka_t *rk, int timeout_ms), (rk, timeout_ms)) \
    F(int, outq_len, (rd_kafka_t *rk), (rk)) \
    F(int, flush, (rd_kafka_t *rk, int timeout_ms), (rk, timeout_ms)) \
    F(int, purge, (rd_kafka_t *rk, int flags), (rk, flags)) \
    F(rd_kafka_headers_t *, headers_new, (size_t initial_count), (initial_count)) \
    V(headers_destroy, (rd_kafka_headers_t *hdrs), (hdrs)) \
    F(int, header_add, (rd_kafka_headers_t *hdrs, const char *name, ssize_t name_size, const void *value, ssize_t value_size), \
        (hdrs, name, name_size, value, value_size)) \
    F(size_t, header_cnt, (const rd_kafka_headers_t *hdrs), (hdrs)) \
    F(int, header_get_all, (const rd_kafka_headers_t *hdrs, size_t idx, const char **namep, const void **valuep, size_t *sizep), \
        (hdrs, idx, namep, valuep, sizep)) \
    F(int, message_headers, (const rd_kafka_message_t *message, rd_kafka_headers_t **hdrsp), (message, hdrsp)) \
    F(int64_t, message_timestamp, (const rd_kafka_message_t *message, int *tstype), (message, tstype)) \
    V(message_destroy, (rd_kafka_message_t *message), (message)) \
    F(const char *, topic_name, (const rd_kafka_topic_t *rkt), (rkt)) \
    F(int, error_code, (const rd_kafka_error_t *error), (error)) \
    F(const char *, error_string, (const rd_kafka_error_t *error), (error)) \
    V(error_destroy, (rd_kafka_error_t *error), (error)) \
    F(rd_kafka_topic_partition_list_t *, topic_partition_list_new, (int size), (size)) \
    V(topic_partition_list_destroy, (rd_kafka_topic_partition_list_t *list), (list)) \
    F(rd_kafka_topic_partition_t *, topic_partition_list_add, (rd_kafka_topic_partition_list_t *list, const char *topic, int32_t partition), \
        (list, topic, partition)) \
    F(int, poll_set_consumer, (rd_kafka_t *rk), (rk)) \
    F(rd_kafka_message_t *, consumer_poll, (rd_kafka_t *rk, int timeout_ms), (rk, timeout_ms)) \
    F(int, consumer_close, (rd_kafka_t *rk), (rk)) \
    F(int, subscribe, (rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *topics), (rk, topics)) \
    F(int, assign, (rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *partitions), (rk, partitions)) \
    F(int, assignment, (rd_kafka_t *rk, rd_kafka_topic_partition_list_t **partitions), (rk, partitions)) \
    F(rd_kafka_error_t *, seek_partitions, (rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions, int timeout_ms), \
        (rk, partitions, timeout_ms)) \
    F(int, commit, (rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *offsets, int async), (rk, offsets, async)) \
    F(int, committed, (rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions, int timeout_ms), (rk, partitions, timeout_ms)) \
    F(int, query_watermark_offsets, (rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low, int64_t *high, int timeout_ms), \
        (rk, topic, partition, low, high, timeout_ms)) \
    F(int, offsets_for_times, (rd_kafka_t *rk, rd_kafka_topic_partition_list_t *offsets, int timeout_ms), (rk, offsets, timeout_ms)) \
    F(int, metadata, (rd_kafka_t *rk, int all_topics, rd_kafka_topic_t *only_rkt, const rd_kafka_metadata_t **metadatap, int timeout_ms), \
        (rk, all_topics, only_rkt, metadatap, timeout_ms)) \
    V(metadata_destroy, (const rd_kafka_metadata_t *metadata), (metadata)) \
    F(rd_kafka_queue_t *, queue_new, (rd_kafka_t *rk), (rk)) \
    V(queue_destroy, (rd_kafka_queue_t *queue), (queue)) \
    F(rd_kafka_event_t *, queue_poll, (rd_kafka_queue_t *queue, int timeout_ms), (queue, timeout_ms)) \
    F(int, event_type, (const rd_kafka_event_t *event), (event)) \
    F(int, event_error, (rd_kafka_event_t *event), (event)) \
    F(const char *, event_error_string, (rd_kafka_event_t *event), (event)) \
    V(event_destroy, (rd_kafka_event_t *event), (event)) \
    F(rd_kafka_AdminOptions_t *, AdminOptions_new, (rd_kafka_t *rk, int for_api), (rk, for_api)) \
    V(AdminOptions_destroy, (rd_kafka_AdminOptions_t *options), (options)) \
    F(int, AdminOptions_set_request_timeout, (rd_kafka_AdminOptions_t *options, int timeout_ms, char *errstr, size_t errstr_size), \
        (options, timeout_ms, errstr, errstr_size)) \
    F(rd_kafka_NewTopic_t *, NewTopic_new, (const char *topic, int num_partitions, int replication_factor, char *errstr, size_t errstr_size), \
        (topic, num_partitions, replication_factor, errstr, errstr_size)) \
    V(NewTopic_destroy, (rd_kafka_NewTopic_t *new_topic), (new_topic)) \
    F(int, NewTopic_set_config, (rd_kafka_NewTopic_t *new_topic, const char *name, const char *value), (new_topic, name, value)) \
    V(CreateTopics, (rd_kafka_t *rk, rd_kafka_NewTopic_t **new_topics, size_t count, const rd_kafka_AdminOptions_t *options, rd_kafka_queue_t *queue), \
        (rk, new_topics, count, options, queue)) \
    F(const rd_kafka_admin_result_t *, event_CreateTopics_result, (rd_kafka_event_t *event), (event)) \
    F(const rd_kafka_topic_result_t **, CreateTopics_result_topics, (const rd_kafka_admin_result_t *result, size_t *countp), (result, countp)) \
    F(rd_kafka_DeleteTopic_t *, DeleteTopic_new, (const char *topic), (topic)) \
    V(DeleteTopic_destroy, (rd_kafka_DeleteTopic_t *del_topic), (del_topic)) \
    V(DeleteTopics, (rd_kafka_t *rk, rd_kafka_DeleteTopic_t **del_topics, size_t count, const rd_kafka_AdminOptions_t *options, rd_kafka_queue_t *queue), \
        (rk, del_topics, count, options, queue)) \
    F(const rd_kafka_admin_result_t *, event_DeleteTopics_result, (rd_kafka_event_t *event), (event)) \
    F(const rd_kafka_topic_result_t **, DeleteTopics_result_topics, (const rd_kafka_admin_result_t *result, size_t *countp), (result, countp)) \
    F(int, topic_result_error, (const rd_kafka_topic_result_t *result), (result)) \
    F(const char *, topic_result_error_string, (const rd_kafka_topic_result_t *result), (result)) \
    F(const char *, topic_result_name, (const rd_kafka_topic_result_t *result), (result)) \
    F(rd_kafka_ConfigResource_t *, ConfigResource_new, (int restype, const char *name), (restype, name)) \
    V(ConfigResource_destroy, (rd_kafka_ConfigResource_t *config), (config)) \
    V(DescribeConfigs, (rd_kafka_t *rk, rd_kafka_ConfigResource_t **configs, size_t count, const rd_kafka_AdminOptions_t *options, rd_kafka_queue_t *queue), \
        (rk, configs, count, options, queue)) \
    F(const rd_kafka_admin_result_t *, event_DescribeConfigs_result, (rd_kafka_event_t *event), (event)) \
    F(const rd_kafka_ConfigResource_t **, DescribeConfigs_result_resources, (const rd_kafka_admin_result_t *result, size_t *countp), (result, countp)) \
    F(int, ConfigResource_error, (const rd_kafka_ConfigResource_t *config), (config)) \
    F(const char *, ConfigResource_error_string, (const rd_kafka_ConfigResource_t *config), (config)) \
    F(const rd_kafka_ConfigEntry_t **, ConfigResource_configs, (const rd_kafka_ConfigResource_t *config, size_t *countp), (config, countp)) \
    F(const char *, ConfigEntry_name, (const rd_kafka_ConfigEntry_t *entry), (entry)) \
    F(const char *, ConfigEntry_value, (const rd_kafka_ConfigEntry_t *entry), (entry))

#define CRDK_DECLARE(ret, name, params, args) ret crdk_##name params;
#define CRDK_DECLARE_VOID(name, params, args) void crdk_##name params;
CRDK_FUNCTIONS(CRDK_DECLARE, CRDK_DECLARE_VOID)
#undef CRDK_DECLARE
#undef CRDK_DECLARE_VOID

/// Opens librdkafka at `path` (a file, or a name the dynamic loader looks up) and binds every
/// function above, once per process. With `path` NULL, whatever is bound already serves, else
/// `librdkafka.so.1`. Returns 0, or writes why not to `errstr` and returns one of:
/// 1 the library cannot be opened, 2 a function is missing, 3 it is older than CRDK_MINIMUM_VERSION,
/// 4 a different librdkafka is bound already.
int crdk_load(const char *path, char *errstr, size_t errstr_size);

/// Whether `crdk_load` has bound a library.
int crdk_is_loaded(void);

/// Per-handle state the callbacks write: the last error librdkafka reported for the handle
/// (connection failures, all brokers down), so that a timeout can say what went wrong.
typedef struct crdk_context crdk_context;

crdk_context *crdk_context_new(void);
void crdk_context_free(crdk_context *context);
/// Copies the last reported error's text into `buffer` and returns its code (0 when none).
int crdk_context_last_error(crdk_context *context, char *buffer, size_t size);
/// Records an error for the handle, as the error callback does.
void crdk_context_set_error(crdk_context *context, int err, const char *reason);

/// Installs the shim's callbacks on `conf`: errors go to `context`, and for a producer, delivery
/// reports go to the batch each record belongs to. `conf` must outlive nothing; `context` must
/// outlive the handle made from it.
void crdk_conf_use_context(rd_kafka_conf_t *conf, crdk_context *context, int producer);

/// One record's outcome: its error (0 when stored) and where it was stored.
typedef struct crdk_delivery {
    int err;
    int32_t partition;
    int64_t offset;
} crdk_delivery;

/// Records produced together, whose delivery reports are counted here; when the last one has
/// arrived, `completion(context)` is called once, on the thread that serves the reports (or the
/// one calling `crdk_batch_seal`).
typedef struct crdk_batch crdk_batch;

crdk_batch *crdk_batch_new(size_t count, void (*completion)(void *context), void *context);
/// Says how many records were enqueued after all (fewer than the batch's count when one failed
/// to enqueue); completion follows once their reports are in.
void crdk_batch_seal(crdk_batch *batch, size_t enqueued);
const crdk_delivery *crdk_batch_deliveries(const crdk_batch *batch);
void crdk_batch_free(crdk_batch *batch);

/// Enqueues record `index` of `batch` (copying every byte). A key or value that is not present is a
/// null one (an empty one is present with length 0, and may have a NULL pointer); `timestamp` 0
/// means now; `partition` CRDK_PARTITION_UA lets the partitioner choose by key.
/// Returns 0, or the error that kept it out of the queue (CRDK_ERR_QUEUE_FULL: try again later).
int crdk_produce(rd_kafka_t *rk, crdk_batch *batch, size_t index, const char *topic, int32_t partition,
                 int key_present, const void *key, size_t key_len, int value_present, const void *value,
                 size_t value_len, int64_t timestamp,
                 const char *const *header_names, const void *const *header_values, const size_t *header_sizes,
                 size_t header_count);

#ifdef __cplusplus
}
#endif

#endif
