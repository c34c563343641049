/* The SQLite store engine: device records in one table of one database
 * file, written in WAL mode so a committed save survives a crash of the
 * server and other processes can read the file while the server runs. */
#ifndef OPAL_STORE_SQLITE_H
#define OPAL_STORE_SQLITE_H

#include <stddef.h>

#include "store/store_engine.h"

/* Opens (creating if needed) the SQLite database at `path`: WAL journal, one
 * table of device records. NULL with one line in `err` when the file cannot
 * be opened or created (missing folder, no permission, not a database, a
 * schema newer than this server knows, ...). The caller owns the result
 * (ops->close frees it). */
store_engine *store_sqlite_open(const char *path, char *err, size_t err_len);

#endif
