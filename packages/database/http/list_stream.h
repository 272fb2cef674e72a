// The list routes' bodies (/getKeys, /getValues, /getAll). Without a limit the whole list is
// a BodyProducer: the server pulls about 64 KiB of JSON at a time, only while the client keeps
// up, so a 1M-record /getAll to a slow client never holds the loop for long nor buffers the
// store. With a limit, one page is built at once and the next cursor returned.
// Both walk the keyspace with its scan cursor, so records written during a listing may or may
// not appear, while a record present for the whole listing, and not rewritten into a larger
// block meanwhile (that moves it in the arena), appears exactly once.
#pragma once

#include <memory>
#include <string>

#include "common/core/result.h"
#include "common/http/request.h"
#include "database/http/params.h"
#include "database/storage/keyspace.h"

namespace db {

enum ListKind { kListKeys = 0, kListValues = 1, kListAll = 2 };

// Builds the stream and produces its first piece now, so a bad cursor is a 400 (INVALID_CURSOR)
// before any 200 is sent.
common::Result<std::unique_ptr<common::http::BodyProducer>> makeListStream(Keyspace& keyspace,
                                                                           ListKind kind,
                                                                           std::string prefix,
                                                                           std::string cursor,
                                                                           std::string collection);

// Appends one page (a complete JSON array) to out; sets next to the cursor of the following
// page, or "" at the end. INVALID_CURSOR for a cursor this node did not produce.
common::Status listPage(Keyspace& keyspace, ListKind kind, const ListParams& params,
                        std::string& out, std::string& next);

}  // namespace db
