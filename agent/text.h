/* text.h - one readable line per record, for people at a terminal. Built from the record
 * alone, so the agent and nightjarctl print the same line. */
#ifndef NJ_TEXT_H
#define NJ_TEXT_H

#include <stdio.h>

#include "nightjar.pb-c.h"

void nj_text_record(FILE *f, const Nightjar__Record *r);

#endif
