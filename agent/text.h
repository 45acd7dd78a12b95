/* text.h - one readable line per record, for people at a terminal. Built from the record
 * alone, so the agent and nightjarctl print the same line. */
#ifndef NJ_TEXT_H
#define NJ_TEXT_H

#include <stdio.h>

#include "nightjar.pb-c.h"

void nj_text_record(FILE *f, const Nightjar__Record *r);

/* The process a record's body is about (NULL for health), and the body's name as in the
 * schema's oneof ("exec", "connect", ...). */
const Nightjar__Process *nj_record_process(const Nightjar__Record *r);
const char *nj_record_kind(const Nightjar__Record *r);

#endif
