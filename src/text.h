/*
 * text.h - small facts about bytes that several modules need to agree on.
 */
#ifndef JWTGATE_TEXT_H
#define JWTGATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence starting at s (1 to 4), or 0 when
 * s does not start one: overlong forms, surrogates and code points past
 * U+10FFFF are invalid. s must be NUL-terminated.
 */
size_t text_utf8_len(const unsigned char *s);

/* An RFC 7230 token (header names, methods, cookie names): non-empty. */
bool text_is_token(const char *s);

#endif
