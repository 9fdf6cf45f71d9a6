#include "server/records/cursor.h"

#include <sodium.h>

#include "base/status_macros.h"
#include "base/big_endian.h"
#include "datadir/restore.h"

namespace vigil::server {
namespace {

constexpr unsigned char kCursorVersion = 3;
constexpr std::size_t kBodyBytes = 1 + 8 + 1 + 8;
constexpr std::size_t kMacBytes = 16;
constexpr unsigned char kPageTokenVersion = 'P';

std::string Base64(std::string_view bytes) {
  std::string out(
      sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

}  // namespace

std::uint8_t ViewOf(const ScopeGrant& grant) {
  return static_cast<std::uint8_t>((grant.full_view ? 1 : 0) | (grant.medical ? 2 : 0) |
                                   (grant.service ? 4 : 0) | (grant.reviewer ? 8 : 0));
}

absl::StatusOr<CursorCodec> CursorCodec::Load(storage::Storage& storage,
                                              const storage::KeyRing& keys) {
  ASSIGN_OR_RETURN(std::string key,
                   storage::LoadOrCreateSecret(storage, keys, datadir::kCursorSecretName, [] {
                     std::string k(crypto_auth_hmacsha256_KEYBYTES, '\0');
                     crypto_auth_hmacsha256_keygen(reinterpret_cast<unsigned char*>(k.data()));
                     return k;
                   }));
  if (key.size() != crypto_auth_hmacsha256_KEYBYTES) {
    return absl::DataLossError("stored cursor key has the wrong size");
  }
  return CursorCodec(std::move(key));
}

std::string CursorCodec::Mac(std::string_view payload, std::string_view scope) const {
  std::string authenticated(payload);
  authenticated.append(scope);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(authenticated.data()),
                         authenticated.size(), reinterpret_cast<const unsigned char*>(key_.data()));
  return std::string(reinterpret_cast<const char*>(mac), kMacBytes);
}

std::string CursorCodec::Encode(std::string_view scope, const CursorPosition& position) const {
  std::string payload(1, static_cast<char>(kCursorVersion));
  AppendBigEndian64(payload, position.seq);
  payload.push_back(static_cast<char>(position.view));
  AppendBigEndian64(payload, position.epoch);
  payload += Mac(payload, scope);
  return Base64(payload);
}

std::string CursorCodec::SealPageToken(std::string_view binding, std::string_view payload) const {
  std::string body(1, static_cast<char>(kPageTokenVersion));
  AppendBigEndian64(body, payload.size());
  body.append(payload);
  body += Mac(body, binding);
  return Base64(body);
}

std::optional<std::string> CursorCodec::OpenPageToken(std::string_view binding,
                                                      std::string_view token) const {
  constexpr std::size_t kMaxToken = 4096;
  if (token.empty() || token.size() > kMaxToken) return std::nullopt;
  std::string bytes(token.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(),
                        token.data(), token.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len < 1 + 8 + kMacBytes || static_cast<unsigned char>(bytes[0]) != kPageTokenVersion) {
    return std::nullopt;
  }
  bytes.resize(len);
  const std::string_view all(bytes);
  const std::uint64_t size = ReadBigEndian64(all.substr(1));
  if (size != len - 1 - 8 - kMacBytes) return std::nullopt;
  const std::string_view body = all.substr(0, len - kMacBytes);
  const std::string expected = Mac(body, binding);
  if (sodium_memcmp(expected.data(), all.data() + body.size(), kMacBytes) != 0) {
    return std::nullopt;
  }
  return std::string(body.substr(1 + 8));
}

std::optional<CursorPosition> CursorCodec::Decode(std::string_view scope,
                                                  std::string_view cursor) const {
  if (cursor.empty()) return CursorPosition{};
  unsigned char payload[kBodyBytes + kMacBytes + 1];
  std::size_t len = 0;
  if (sodium_base642bin(payload, sizeof(payload), cursor.data(), cursor.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len != kBodyBytes + kMacBytes || payload[0] != kCursorVersion) {
    return std::nullopt;
  }
  const std::string expected =
      Mac(std::string_view(reinterpret_cast<const char*>(payload), kBodyBytes), scope);
  if (sodium_memcmp(expected.data(), payload + kBodyBytes, kMacBytes) != 0) return std::nullopt;
  CursorPosition position;
  const std::string_view bytes(reinterpret_cast<const char*>(payload), kBodyBytes);
  position.seq = ReadBigEndian64(bytes.substr(1));
  position.view = payload[9];
  position.epoch = ReadBigEndian64(bytes.substr(10));
  return position;
}

}  // namespace vigil::server
