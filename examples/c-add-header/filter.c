/*
 * c-add-header: a proxy-wasm HTTP filter written in plain C against the raw ABI 0.2.1.
 *
 * Configuration (JSON object of header name -> value), e.g. {"x-c-filter": "hello"}.
 * Each configured header is set on the request (replacing client-sent values) and on the
 * response. The request header "x-c-filter-debug" is removed before the request goes upstream.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_wasm_abi.h"

#define MAX_HEADERS 16
#define MAX_TEXT 256

typedef struct {
  char name[MAX_TEXT];
  char value[MAX_TEXT];
} header_t;

static header_t headers[MAX_HEADERS];
static int header_count = 0;

static void log_text(pw_log_level_t level, const char *text) {
  proxy_log(level, text, strlen(text));
}

/* The host allocates the buffers it hands to us through this export. */
PW_EXPORT(proxy_on_memory_allocate)
void *proxy_on_memory_allocate(size_t size) { return malloc(size); }

PW_EXPORT(proxy_abi_version_0_2_1)
void proxy_abi_version_0_2_1(void) {}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* Reads a JSON string without escapes into out; returns the position after it, NULL on error. */
static const char *read_string(const char *p, const char *end, char *out) {
  size_t n = 0;
  if (p >= end || *p != '"') return NULL;
  for (p++; p < end && *p != '"'; p++) {
    if (*p == '\\' || n + 1 >= MAX_TEXT) return NULL;
    out[n++] = *p;
  }
  if (p >= end) return NULL;
  out[n] = '\0';
  return p + 1;
}

/* Parses {"name": "value", ...}; only string values, no escapes. */
static bool parse_config(const char *p, const char *end) {
  header_count = 0;
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return false;
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}') return true;
  while (p < end) {
    if (header_count == MAX_HEADERS) return false;
    header_t *h = &headers[header_count];
    p = read_string(skip_ws(p, end), end, h->name);
    if (p == NULL) return false;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return false;
    p = read_string(skip_ws(p + 1, end), end, h->value);
    if (p == NULL) return false;
    for (char *c = h->name; *c; c++) {
      if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    }
    header_count++;
    p = skip_ws(p, end);
    if (p < end && *p == '}') return true;
    if (p >= end || *p != ',') return false;
    p++;
  }
  return false;
}

PW_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t parent_context_id) {
  (void)context_id;
  (void)parent_context_id;
}

PW_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_context_id, uint32_t vm_configuration_size) {
  (void)root_context_id;
  (void)vm_configuration_size;
  return 1;
}

PW_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_context_id, uint32_t configuration_size) {
  (void)root_context_id;
  char *data = NULL;
  size_t size = 0;
  if (configuration_size == 0) {
    header_count = 0;
    log_text(PW_LOG_INFO, "c-add-header: no configuration, nothing to add");
    return 1;
  }
  if (proxy_get_buffer_bytes(PW_BUFFER_PLUGIN_CONFIGURATION, 0, configuration_size, &data,
                             &size) != PW_OK) {
    log_text(PW_LOG_ERROR, "c-add-header: cannot read the plugin configuration");
    return 0;
  }
  bool ok = parse_config(data, data + size);
  free(data);
  if (!ok) {
    log_text(PW_LOG_ERROR, "c-add-header: configuration must be a JSON object of strings");
    return 0;
  }
  log_text(PW_LOG_INFO, "c-add-header: configured");
  return 1;
}

static void set_all(pw_map_type_t map) {
  for (int i = 0; i < header_count; i++) {
    const header_t *h = &headers[i];
    proxy_remove_header_map_value(map, h->name, strlen(h->name));
    proxy_add_header_map_value(map, h->name, strlen(h->name), h->value, strlen(h->value));
  }
}

PW_EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t num_headers, uint32_t end_of_stream) {
  (void)context_id;
  (void)num_headers;
  (void)end_of_stream;
  static const char debug[] = "x-c-filter-debug";
  proxy_remove_header_map_value(PW_MAP_REQUEST_HEADERS, debug, sizeof debug - 1);
  set_all(PW_MAP_REQUEST_HEADERS);
  return PW_HEADERS_CONTINUE;
}

PW_EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t context_id, uint32_t num_headers,
                                   uint32_t end_of_stream) {
  (void)context_id;
  (void)num_headers;
  (void)end_of_stream;
  set_all(PW_MAP_RESPONSE_HEADERS);
  return PW_HEADERS_CONTINUE;
}

PW_EXPORT(proxy_on_done)
uint32_t proxy_on_done(uint32_t context_id) {
  (void)context_id;
  return 1;
}

PW_EXPORT(proxy_on_log)
void proxy_on_log(uint32_t context_id) { (void)context_id; }

PW_EXPORT(proxy_on_delete)
void proxy_on_delete(uint32_t context_id) { (void)context_id; }
