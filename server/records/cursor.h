// Pull cursors: opaque to the device, authenticated by the server. A cursor
// names a position in a scope's change feed, the view the records before it
// were shaped for (what a grant hides; a cursor of another view starts the
// scope again) and the caller's view epoch in the scope then.
//
// Layout: 0x03 | seq (8, big-endian) | view (1) | epoch (8) | HMAC-SHA256 of
// those 18 bytes and the scope, truncated to 16 bytes; URL-safe base64
// without padding. Cursors of the 0.1 development series' earlier layouts
// (without view or epoch) are refused like any other foreign cursor: the
// device pulls the scope again from the beginning.
#ifndef VIGIL_SERVER_RECORDS_CURSOR_H_
#define VIGIL_SERVER_RECORDS_CURSOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/auth/access_policy.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::server {

struct CursorPosition {
  std::uint64_t seq = 0;
  // kNoView for the beginning of a scope.
  std::uint8_t view = 0xff;
  std::uint64_t epoch = 0;
};
inline constexpr std::uint8_t kNoView = 0xff;

// What shapes the records a grant sees (which fields are removed, which
// records withheld): the `view` a cursor carries.
std::uint8_t ViewOf(const ScopeGrant& grant);

class CursorCodec {
 public:
  // Loads (creating on first use) the server secret that authenticates
  // cursors, sealed in the database under datadir::kCursorSecretName.
  static absl::StatusOr<CursorCodec> Load(storage::Storage& storage,
                                          const storage::KeyRing& keys);

  std::string Encode(std::string_view scope, const CursorPosition& position) const;
  // The position `cursor` names in `scope` (the beginning for an empty
  // cursor); nullopt when it is malformed, altered, of another scope or
  // server, or of an earlier layout.
  std::optional<CursorPosition> Decode(std::string_view scope, std::string_view cursor) const;

  // AIP-158 page tokens, authenticated by the same secret: an opaque token
  // for `payload` (where the next page starts), bound to `binding` (what
  // the query asked and who asked it). OpenPageToken gives the payload back
  // only for a token made here with the same binding; nullopt otherwise.
  std::string SealPageToken(std::string_view binding, std::string_view payload) const;
  std::optional<std::string> OpenPageToken(std::string_view binding,
                                           std::string_view token) const;

 private:
  explicit CursorCodec(std::string key) : key_(std::move(key)) {}
  std::string Mac(std::string_view payload, std::string_view scope) const;

  std::string key_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_CURSOR_H_
