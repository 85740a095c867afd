/*
 * Minimal hand-written declarations of the proxy-wasm ABI 0.2.1 used by this sample.
 *
 * Host functions are imported from module "env"; the functions the host calls are exported
 * by name. Only the calls this filter needs are declared. Reference: the proxy-wasm spec,
 * abi-versions/v0.2.1.
 */
#ifndef PROXY_WASM_ABI_H
#define PROXY_WASM_ABI_H

#include <stddef.h>
#include <stdint.h>

#define PW_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define PW_EXPORT(name) __attribute__((export_name(#name)))

typedef enum {
  PW_OK = 0,
  PW_NOT_FOUND = 1,
  PW_BAD_ARGUMENT = 2,
} pw_result_t;

typedef enum {
  PW_LOG_TRACE = 0,
  PW_LOG_DEBUG = 1,
  PW_LOG_INFO = 2,
  PW_LOG_WARN = 3,
  PW_LOG_ERROR = 4,
  PW_LOG_CRITICAL = 5,
} pw_log_level_t;

typedef enum {
  PW_MAP_REQUEST_HEADERS = 0,
  PW_MAP_REQUEST_TRAILERS = 1,
  PW_MAP_RESPONSE_HEADERS = 2,
  PW_MAP_RESPONSE_TRAILERS = 3,
} pw_map_type_t;

typedef enum {
  PW_BUFFER_REQUEST_BODY = 0,
  PW_BUFFER_RESPONSE_BODY = 1,
  PW_BUFFER_VM_CONFIGURATION = 6,
  PW_BUFFER_PLUGIN_CONFIGURATION = 7,
} pw_buffer_type_t;

typedef enum {
  PW_HEADERS_CONTINUE = 0,
  PW_HEADERS_STOP_ITERATION = 1,
} pw_headers_status_t;

PW_IMPORT(proxy_log)
pw_result_t proxy_log(pw_log_level_t level, const char *message, size_t message_size);

PW_IMPORT(proxy_get_buffer_bytes)
pw_result_t proxy_get_buffer_bytes(pw_buffer_type_t type, uint32_t start, uint32_t length,
                                   char **data, size_t *data_size);

PW_IMPORT(proxy_add_header_map_value)
pw_result_t proxy_add_header_map_value(pw_map_type_t type, const char *key, size_t key_size,
                                       const char *value, size_t value_size);

PW_IMPORT(proxy_replace_header_map_value)
pw_result_t proxy_replace_header_map_value(pw_map_type_t type, const char *key, size_t key_size,
                                           const char *value, size_t value_size);

PW_IMPORT(proxy_remove_header_map_value)
pw_result_t proxy_remove_header_map_value(pw_map_type_t type, const char *key, size_t key_size);

PW_IMPORT(proxy_get_header_map_value)
pw_result_t proxy_get_header_map_value(pw_map_type_t type, const char *key, size_t key_size,
                                       char **value, size_t *value_size);

#endif
