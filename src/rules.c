/*
 * rules.c - exclude patterns, route rules and path normalisation.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rules.h"

#include <pcre2.h>
#include <stdio.h>

int
rules_pattern_check(const char *pattern, char *err, size_t errlen)
{
	pcre2_code *re;
	int         code;
	PCRE2_SIZE  off;
	PCRE2_UCHAR msg[256];

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code,
	    &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(code, msg, sizeof msg);
		snprintf(err, errlen, "invalid pattern at offset %zu: %s",
		    (size_t)off, (const char *)msg);
		return -1;
	}
	pcre2_code_free(re);
	return 0;
}
