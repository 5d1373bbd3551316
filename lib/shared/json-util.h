#pragma once

/* Small jansson helpers shared by arkd's modules. Nothing here logs. */

/* A JSON array of the strings of l (compact), newly allocated; NULL on OOM or a string that is
 * not valid UTF-8. */
char *strv_to_json(char *const *l);
/* The strings of a JSON array (as strv_to_json() writes it) in *ret, newly allocated (an empty
 * array gives an empty list, not NULL). -EBADMSG for text that is not such an array or holds a NUL,
 * -ENOMEM. */
int strv_from_json(const char *text, char ***ret);
