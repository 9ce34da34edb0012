/*
 * Native hot paths of libs/records, as a tiny Node-API addon: CRC32C and the leader's
 * per-record validation of uncompressed batches.
 *
 * CRC32C (Castagnoli).
 * Why: every byte a producer sends is checksummed by the producer, by the leader when it
 * validates the batch, and by the consumer. A single stream of the SSE4.2 crc32 instruction
 * is bound by its 3-cycle latency (~6 GB/s here); running three independent streams over
 * three consecutive blocks keeps the CPU's CRC unit busy every cycle, and the three partial
 * CRCs are then joined with precomputed "append N zero bytes" operators (CRC is linear:
 * crc(s, A||B) = shift(crc(s, A), |B|) ^ crc(0, B)).
 *
 * Interface: crc32c(view: TypedArray | Buffer, initial: uint32) -> uint32, with the usual
 * pre/post conditioning, so that crc32c(b, crc32c(a)) == crc32c(a || b).
 * Only built on x86-64 (tools/scripts/build-native.js); the JS side (native.ts) falls back to
 * @node-rs/crc32 and to JavaScript when the addon is absent or the CPU lacks SSE4.2.
 */
#include <node_api.h>
#include <nmmintrin.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define POLY 0x82f63b78u /* Castagnoli polynomial, bit-reflected */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

/* shift tables: table[k][v] = operator(v << 8k) for appending LONG/SHORT zero bytes */
static uint32_t long_shift[4][256];
static uint32_t short_shift[4][256];
static int have_sse42;

/* A GF(2) linear operator on 32-bit CRC registers, as its 32 columns. */
static uint32_t gf2_apply(const uint32_t *op, uint32_t vec) {
  uint32_t sum = 0;
  for (int n = 0; vec; n++, vec >>= 1)
    if (vec & 1) sum ^= op[n];
  return sum;
}

/* out = a after b */
static void gf2_compose(uint32_t *out, const uint32_t *a, const uint32_t *b) {
  uint32_t tmp[32];
  for (int n = 0; n < 32; n++) tmp[n] = gf2_apply(a, b[n]);
  memcpy(out, tmp, sizeof tmp);
}

/* The operator that appends `bytes` zero bytes to a CRC register. */
static void zeros_operator(uint32_t *op, size_t bytes) {
  uint32_t bit[32], base[32];
  /* one zero bit: reflected shift right, folding in the polynomial */
  bit[0] = POLY;
  for (int n = 1; n < 32; n++) bit[n] = 1u << (n - 1);
  /* one zero byte = eight zero bits */
  memcpy(base, bit, sizeof bit);
  for (int i = 1; i < 8; i++) gf2_compose(base, bit, base);
  /* identity, then binary exponentiation over the byte count */
  for (int n = 0; n < 32; n++) op[n] = 1u << n;
  while (bytes) {
    if (bytes & 1) gf2_compose(op, base, op);
    gf2_compose(base, base, base);
    bytes >>= 1;
  }
}

static void build_shift_table(uint32_t table[4][256], size_t bytes) {
  uint32_t op[32];
  zeros_operator(op, bytes);
  for (int k = 0; k < 4; k++)
    for (uint32_t v = 0; v < 256; v++) table[k][v] = gf2_apply(op, v << (8 * k));
}

static inline uint32_t shift(const uint32_t table[4][256], uint32_t crc) {
  return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

static inline uint64_t load64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_register(uint32_t reg, const unsigned char *buf, size_t len) {
  uint64_t c0 = reg;
  while (len && ((uintptr_t)buf & 7)) {
    c0 = _mm_crc32_u8((uint32_t)c0, *buf++);
    len--;
  }
  while (len >= 3 * LONG_BLOCK) {
    uint64_t c1 = 0, c2 = 0;
    const unsigned char *end = buf + LONG_BLOCK;
    do {
      c0 = _mm_crc32_u64(c0, load64(buf));
      c1 = _mm_crc32_u64(c1, load64(buf + LONG_BLOCK));
      c2 = _mm_crc32_u64(c2, load64(buf + 2 * LONG_BLOCK));
      buf += 8;
    } while (buf < end);
    c0 = shift(long_shift, (uint32_t)c0) ^ (uint32_t)c1;
    c0 = shift(long_shift, (uint32_t)c0) ^ (uint32_t)c2;
    buf += 2 * LONG_BLOCK;
    len -= 3 * LONG_BLOCK;
  }
  while (len >= 3 * SHORT_BLOCK) {
    uint64_t c1 = 0, c2 = 0;
    const unsigned char *end = buf + SHORT_BLOCK;
    do {
      c0 = _mm_crc32_u64(c0, load64(buf));
      c1 = _mm_crc32_u64(c1, load64(buf + SHORT_BLOCK));
      c2 = _mm_crc32_u64(c2, load64(buf + 2 * SHORT_BLOCK));
      buf += 8;
    } while (buf < end);
    c0 = shift(short_shift, (uint32_t)c0) ^ (uint32_t)c1;
    c0 = shift(short_shift, (uint32_t)c0) ^ (uint32_t)c2;
    buf += 2 * SHORT_BLOCK;
    len -= 3 * SHORT_BLOCK;
  }
  while (len >= 8) {
    c0 = _mm_crc32_u64(c0, load64(buf));
    buf += 8;
    len -= 8;
  }
  while (len) {
    c0 = _mm_crc32_u8((uint32_t)c0, *buf++);
    len--;
  }
  return (uint32_t)c0;
}

static napi_value throw_type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value Crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 1) {
    return throw_type_error(env, "crc32c(view, initial?) needs a Buffer or TypedArray");
  }
  bool is_typed = false;
  napi_is_typedarray(env, args[0], &is_typed);
  if (!is_typed) return throw_type_error(env, "crc32c: the first argument must be a Buffer or TypedArray");
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value arraybuffer;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, args[0], &type, &length, &data, &arraybuffer, &byte_offset) != napi_ok) {
    return throw_type_error(env, "crc32c: cannot read the view");
  }
  size_t element = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: element = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: element = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: element = 8; break;
    default: element = 1;
  }
  uint32_t initial = 0;
  if (argc > 1) {
    napi_valuetype t;
    napi_typeof(env, args[1], &t);
    if (t != napi_undefined && napi_get_value_uint32(env, args[1], &initial) != napi_ok) {
      return throw_type_error(env, "crc32c: the initial value must be a number");
    }
  }
  uint32_t crc = ~crc32c_register(~initial, (const unsigned char *)data, length * element);
  napi_value result;
  napi_create_uint32(env, crc, &result);
  return result;
}

/*
 * The leader's per-record check of an uncompressed batch (libs/records validateRecords),
 * records at buf[start, end): for each of `count` records, the length varint, attributes,
 * timestampDelta, offsetDelta == i, key length (-1 or ≥ 0) and key, value length and value,
 * zero headers, the record ending exactly where its length says, timestamps within ±2^53.
 * Varints of up to 4 bytes only. It mirrors validateUncompressedFast in decode.ts exactly:
 * it accepts only well-formed records and gives up (returns false) at the first surprise,
 * and the careful JavaScript walk then decides and explains. Never reads outside [start, end).
 * out[0..3] = maxTimestamp, offsetDelta of the max, null keys, (unused).
 */
#define MAX_SAFE 9007199254740991LL

static inline int read_varint(const unsigned char *buf, size_t *p, size_t end, uint32_t *raw) {
  uint32_t value = 0;
  for (int shift = 0; shift < 28; shift += 7) {
    if (*p >= end) return 0;
    unsigned char b = buf[(*p)++];
    value |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *raw = value;
      return 1;
    }
  }
  return 0; /* longer than 4 bytes: not for the fast path */
}

static inline int32_t zigzag(uint32_t raw) {
  return (int32_t)(raw >> 1) ^ -(int32_t)(raw & 1);
}

static int validate_records(const unsigned char *buf, size_t start, size_t end, int64_t count, int64_t base_ts, double *out) {
  size_t p = start;
  int64_t max_ts = INT64_MIN;
  int64_t delta_of_max = 0, null_keys = 0;
  uint32_t raw;
  for (int64_t i = 0; i < count; i++) {
    if (!read_varint(buf, &p, end, &raw)) return 0;
    int32_t length = zigzag(raw);
    if (length < 6 || (size_t)length > end - p) return 0;
    size_t record_end = p + (size_t)length;
    p += 1; /* attributes */
    if (!read_varint(buf, &p, record_end, &raw)) return 0;
    int64_t ts = base_ts + zigzag(raw);
    if (!read_varint(buf, &p, record_end, &raw) || zigzag(raw) != i || p >= record_end) return 0;
    if (!read_varint(buf, &p, record_end, &raw) || p >= record_end) return 0;
    int32_t key_length = zigzag(raw);
    if (key_length == -1) null_keys++;
    else if (key_length < 0 || (size_t)key_length > record_end - p) return 0;
    else p += (size_t)key_length;
    if (!read_varint(buf, &p, record_end, &raw) || p >= record_end) return 0;
    int32_t value_length = zigzag(raw);
    if (value_length < -1 || (value_length > 0 && (size_t)value_length > record_end - p)) return 0;
    if (value_length > 0) p += (size_t)value_length;
    if (p + 1 != record_end || buf[p] != 0) return 0; /* zero headers, nothing after */
    p = record_end;
    if (ts > max_ts) {
      if (ts > MAX_SAFE) return 0;
      max_ts = ts;
      delta_of_max = i;
    } else if (ts < -MAX_SAFE) {
      return 0;
    }
  }
  if (p != end) return 0;
  out[0] = (double)max_ts;
  out[1] = (double)delta_of_max;
  out[2] = (double)null_keys;
  return 1;
}

/* validateRecords(view, start, end, count, baseTimestamp, out: Float64Array) -> boolean */
static napi_value ValidateRecords(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 6) return throw_type_error(env, "validateRecords(view, start, end, count, baseTimestamp, out)");
  napi_typedarray_type type, out_type;
  size_t length, out_length, offset;
  void *data, *out_data;
  napi_value ab;
  if (napi_get_typedarray_info(env, args[0], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    return throw_type_error(env, "validateRecords: the view must be a Buffer");
  }
  if (napi_get_typedarray_info(env, args[5], &out_type, &out_length, &out_data, &ab, &offset) != napi_ok ||
      out_type != napi_float64_array || out_length < 3) {
    return throw_type_error(env, "validateRecords: out must be a Float64Array of 3 or more");
  }
  int64_t start, end, count;
  double base_ts;
  if (napi_get_value_int64(env, args[1], &start) != napi_ok || napi_get_value_int64(env, args[2], &end) != napi_ok ||
      napi_get_value_int64(env, args[3], &count) != napi_ok || napi_get_value_double(env, args[4], &base_ts) != napi_ok) {
    return throw_type_error(env, "validateRecords: start, end, count and baseTimestamp must be numbers");
  }
  int ok = 0;
  if (start >= 0 && end >= start && (size_t)end <= length && count >= 0) {
    ok = validate_records((const unsigned char *)data, (size_t)start, (size_t)end, count, (int64_t)base_ts, (double *)out_data);
  }
  napi_value result;
  napi_get_boolean(env, ok != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  __builtin_cpu_init();
  have_sse42 = __builtin_cpu_supports("sse4.2");
  build_shift_table(long_shift, LONG_BLOCK);
  build_shift_table(short_shift, SHORT_BLOCK);
  napi_value fn, available;
  napi_get_boolean(env, have_sse42 != 0, &available);
  napi_set_named_property(env, exports, "available", available);
  if (have_sse42) {
    napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, Crc32c, NULL, &fn);
    napi_set_named_property(env, exports, "crc32c", fn);
  }
  napi_value validate;
  napi_create_function(env, "validateRecords", NAPI_AUTO_LENGTH, ValidateRecords, NULL, &validate);
  napi_set_named_property(env, exports, "validateRecords", validate);
  return exports;
}
