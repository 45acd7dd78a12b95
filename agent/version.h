/* version.h - one version for the agent and nightjarctl. */
#ifndef NJ_VERSION_H
#define NJ_VERSION_H

#ifndef NJ_VERSION
#define NJ_VERSION "0.1.0"
#endif

#endif
