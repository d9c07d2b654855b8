/*
 * Self-test of the C codec, no kernel needed: the golden frames shared by the Java and Python codecs
 * (python/tests/golden_frames.json, rendered by GoldenFramesTest) must encode and decode byte for byte, and
 * every malformed reply must be refused without reading past the buffer.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -O2 -I include -I clients/c clients/c/ukernel.c clients/c/test_codec.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ukernel.h"

static int failures;

#define CHECK(cond)                                                                                              \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                           \
            failures++;                                                                                        \
        }                                                                                                      \
    } while (0)

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex) / 2;
    if (n > cap) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            abort();
        }
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Encodes a request and compares it with the golden hex. */
static void expect_request(const char *hex, uint32_t seq, uint16_t call, const uk_value *args, size_t argc) {
    uint8_t want[256], got[256];
    size_t wn = unhex(hex, want, sizeof want), gn = 0;
    CHECK(uk_encode_request(got, sizeof got, seq, call, args, argc, &gn) == UK_OK);
    CHECK(gn == wn && memcmp(got, want, wn) == 0);
}

/* Decodes a reply from hex, into a heap copy of exactly its size (so a sanitizer sees any overread). */
static int decode_hex(const char *hex, uint32_t *seq, uint16_t *status, uk_value *out, size_t outcap,
                      size_t *count, uint8_t **keep) {
    uint8_t tmp[512];
    size_t n = unhex(hex, tmp, sizeof tmp);
    uint8_t *buf = malloc(n ? n : 1);
    memcpy(buf, tmp, n);
    *keep = buf;
    return uk_decode_reply(buf, n, seq, status, out, outcap, count);
}

static void golden(void) {
    static const uint8_t token[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                      0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    static const int64_t pairs[4] = {4, 1, 5, 3};

    expect_request("080000000700000020000000", 7, UK_CALL_TIME_MONOTONIC_NS, NULL, 0);
    uk_value hello[2] = {uk_bytes(token, 16), uk_i64(UK_ABI_VERSION)};
    expect_request("260000000100000000000200021000000000112233445566778899aabbccddeeff010300010000000000", 1,
                   UK_CALL_HELLO, hello, 2);
    uk_value log[2] = {uk_i64(20), uk_bytes("h\xc3\xa9llo", 6)};
    expect_request("1c0000000200000010000200011400000000000000020600000068c3a96c6c6f", 2, UK_CALL_LOG_WRITE, log, 2);
    uk_value poll[2] = {uk_i64s(pairs, 4), uk_i64(-1)};
    expect_request("3600000003000000700002000304000000040000000000000001000000000000000500000000000000030000000000"
                   "000001ffffffffffffffff",
                   3, UK_CALL_IO_POLL, poll, 2);
    expect_request("08000000ffffffffffff0000", 0xffffffffu, 0xffff, NULL, 0);

    uint32_t seq;
    uint16_t st;
    size_t n;
    uk_value v[UK_MAX_VALUES];
    uint8_t *keep;

    CHECK(decode_hex("11000000070000000000010001cb04fb711f010000", &seq, &st, v, UK_MAX_VALUES, &n, &keep) == UK_OK);
    CHECK(seq == 7 && st == UK_OK && n == 1 && v[0].tag == UK_TAG_I64 && v[0].i64 == 1234567890123LL);
    free(keep);

    CHECK(decode_hex("1a0000000100000000000200010100000000000000010300010000000000", &seq, &st, v, UK_MAX_VALUES, &n,
                     &keep) == UK_OK);
    CHECK(seq == 1 && n == 2 && v[0].i64 == 1 && v[1].i64 == UK_ABI_VERSION);
    free(keep);

    /* ABI 1.1: a granted reply keeps REPLY_GRANTED in the decoded status (uk_call takes the descriptor) */
    CHECK(decode_hex("280000000b0000000080030001050000000000000002090000003132372e302e302e31015000000000000000", &seq,
                     &st, v, UK_MAX_VALUES, &n, &keep) == UK_OK);
    CHECK(seq == 11 && st == UK_REPLY_GRANTED && n == 3 && v[0].i64 == 5 && v[2].i64 == 80);
    free(keep);
    CHECK(decode_hex("080000000c00000000800000", &seq, &st, v, UK_MAX_VALUES, &n, &keep) == UK_OK);
    CHECK(seq == 12 && st == UK_REPLY_GRANTED && n == 0);
    free(keep);
    /* only OK can be granted */
    CHECK(decode_hex("080000000c00000002800000", &seq, &st, v, UK_MAX_VALUES, &n, &keep) == UK_E_PROTO);
    free(keep);

    CHECK(decode_hex("1a0000000900000000000200012a0000000000000002040000006d61696e", &seq, &st, v, UK_MAX_VALUES, &n,
                     &keep) == UK_OK);
    CHECK(seq == 9 && n == 2 && v[0].i64 == 42 && v[1].tag == UK_TAG_BYTES && v[1].n == 4 &&
          memcmp(v[1].bytes, "main", 4) == 0);
    free(keep);

    CHECK(decode_hex("0d00000003000000000001000300000000", &seq, &st, v, UK_MAX_VALUES, &n, &keep) == UK_OK);
    CHECK(seq == 3 && n == 1 && v[0].tag == UK_TAG_I64S && v[0].n == 0);
    free(keep);

    CHECK(decode_hex("080000000400000002000000", &seq, &st, v, UK_MAX_VALUES, &n, &keep) == UK_OK);
    CHECK(seq == 4 && st == UK_ERR_DENIED && n == 0);
    free(keep);

    CHECK(decode_hex("08000000050000000e000000", &seq, &st, v, UK_MAX_VALUES, &n, &keep) == UK_OK);
    CHECK(seq == 5 && st == UK_ERR_TOOBIG && n == 0);
    free(keep);

    /* I64S elements, negative numbers, read back little-endian. */
    CHECK(decode_hex("1d000000030000000000010003020000000100000000000000feffffffffffffff", &seq, &st, v,
                     UK_MAX_VALUES, &n, &keep) == UK_OK);
    CHECK(n == 1 && v[0].n == 2 && uk_value_i64s_at(&v[0], 0) == 1 && uk_value_i64s_at(&v[0], 1) == -2);
    free(keep);
}

static void malformed(void) {
    uint32_t seq;
    uint16_t st;
    size_t n;
    uk_value v[UK_MAX_VALUES];
    uint8_t *keep;
    static const char *const bad[] = {
        "0700000001000000000000",                     /* length 7 < 8 */
        "01001000010000000000000000",                 /* length 0x100001 > UK_MAX_FRAME_BYTES */
        "0900000001000000000000000000",               /* length 9 but 10 bytes follow: disagrees with the buffer */
        "080000000100000000000100",                   /* count 1, no value */
        "080000000100000000004100",                   /* count 65 > UK_MAX_VALUES */
        "0a000000010000000000010001ff",               /* I64 cut short */
        "0d00000001000000000001000205000000",         /* BYTES n=5, nothing follows */
        "0d000000010000000000010002ffffffff",         /* BYTES n=2^32-1 */
        "0d00000001000000000001000300000020",         /* I64S n=2^29: n*8 wraps 32 bits */
        "0d00000001000000000001000301000000",         /* I64S n=1, no element */
        "09000000010000000000010009",                 /* unknown tag 9 */
        "0a00000001000000000000000000",               /* bytes after the last value */
        "110000000100000002000100010000000000000000", /* an error status carrying a value */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = decode_hex(bad[i], &seq, &st, v, UK_MAX_VALUES, &n, &keep);
        if (rc != UK_E_PROTO) {
            fprintf(stderr, "malformed reply %zu (%s) decoded with %d\n", i, bad[i], rc);
            failures++;
        }
        free(keep);
    }
    /* Too short to hold a header. */
    uint8_t tiny[4] = {8, 0, 0, 0};
    CHECK(uk_decode_reply(tiny, sizeof tiny, &seq, &st, v, UK_MAX_VALUES, &n) == UK_E_PROTO);

    /* Well-formed, but more values than the caller has room for. */
    CHECK(decode_hex("1a0000000100000000000200010100000000000000010000010000000000", &seq, &st, v, 1, &n, &keep) ==
          UK_E_TRUNC);
    CHECK(seq == 1 && n == 2 && v[0].i64 == 1);
    free(keep);
}

static void encoder_limits(void) {
    static uint8_t frame[UK_MAX_FRAME_BYTES + 4];
    size_t len = 0;
    uk_value many[UK_MAX_VALUES + 1];
    for (size_t i = 0; i < UK_MAX_VALUES + 1; i++) {
        many[i] = uk_i64((int64_t)i);
    }
    CHECK(uk_encode_request(frame, sizeof frame, 1, 1, many, UK_MAX_VALUES + 1, &len) == UK_E_ARG);
    CHECK(uk_encode_request(frame, sizeof frame, 1, 1, many, UK_MAX_VALUES, &len) == UK_OK);
    CHECK(len == UK_REQUEST_HEADER_BYTES + 9 * UK_MAX_VALUES);

    /* The largest BYTES a frame holds: 1 MiB - 8 (header after length) - 5 (tag, n). */
    static uint8_t payload[UK_MAX_FRAME_BYTES];
    uk_value big = uk_bytes(payload, UK_MAX_FRAME_BYTES - 13);
    CHECK(uk_encode_request(frame, sizeof frame, 1, 1, &big, 1, &len) == UK_OK && len == UK_MAX_FRAME_BYTES + 4);
    big = uk_bytes(payload, UK_MAX_FRAME_BYTES - 12);
    CHECK(uk_encode_request(frame, sizeof frame, 1, 1, &big, 1, &len) == UK_E_FRAME);
    big = uk_bytes(payload, (size_t)1 << 40);
    CHECK(uk_encode_request(frame, sizeof frame, 1, 1, &big, 1, &len) == UK_E_FRAME);
    uk_value huge = uk_i64s((const int64_t *)payload, (size_t)1 << 61);
    CHECK(uk_encode_request(frame, sizeof frame, 1, 1, &huge, 1, &len) == UK_E_FRAME);
    uk_value null_bytes = uk_bytes(NULL, 3);
    CHECK(uk_encode_request(frame, sizeof frame, 1, 1, &null_bytes, 1, &len) == UK_E_ARG);
    uk_value one = uk_i64(1);
    CHECK(uk_encode_request(frame, 20, 1, 1, &one, 1, &len) == UK_E_ARG); /* 21 bytes needed */
    CHECK(uk_encode_request(frame, 21, 1, 1, &one, 1, &len) == UK_OK && len == 21);
}

static void not_connected(void) {
    int64_t x;
    CHECK(uk_abi_version(&x) == UK_E_NOTCONN);
    CHECK(uk_connect_to("/nonexistent/abi.sock", "0011") == UK_E_ENV);
    CHECK(uk_connect_to("/nonexistent/abi.sock", "00112233445566778899aabbccddeefg") == UK_E_ENV);
    CHECK(uk_connect_to("/nonexistent/abi.sock", "00112233445566778899aabbccddeeff") == UK_E_CONNECT);
    CHECK(strcmp(uk_strerror(UK_ERR_DENIED), "UK_ERR_DENIED") == 0);
    CHECK(strcmp(uk_strerror(-UK_ERR_DENIED), "UK_ERR_DENIED") == 0);
    CHECK(strcmp(uk_strerror(UK_E_PROTO), "UK_E_PROTO") == 0);
    CHECK(strcmp(uk_strerror(99), "unknown") == 0);
}

int main(void) {
    golden();
    malformed();
    encoder_limits();
    not_connected();
    if (failures > 0) {
        fprintf(stderr, "test_codec: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_codec: all passed\n");
    return 0;
}
