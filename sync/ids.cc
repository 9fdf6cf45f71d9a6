#include "sync/ids.h"

#include "base/sha256.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vigil::sync {
namespace {

constexpr int64_t kMaxMillis = (int64_t{1} << 48) - 1;
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int CrockfordValue(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kCrockford[i] == c) return i;
  }
  return -1;
}

absl::Status Invalid(const char* kind, std::string_view id, const char* why) {
  const std::string_view shown = id.substr(0, 64);
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid ", kind, " \"",
      absl::CHexEscape(absl::string_view(shown.data(), shown.size())),
      "\": ", why));
}

}  // namespace

absl::StatusOr<std::string> NewUuidV7(absl::Time now,
                                      const UuidRandomBytes& random) {
  const int64_t millis = absl::ToUnixMillis(now);
  if (millis < 0 || millis > kMaxMillis) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time ", absl::FormatTime(now), " is outside the UUIDv7 range"));
  }
  uint8_t b[16];
  for (int i = 0; i < 6; ++i) {
    b[i] = static_cast<uint8_t>(millis >> (8 * (5 - i)));
  }
  for (int i = 0; i < 10; ++i) b[6 + i] = random[i];
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 9562 variant
  return absl::StrFormat(
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
      b[12], b[13], b[14], b[15]);
}

absl::Status ValidateUuidV7(std::string_view id) {
  if (id.size() != 36) return Invalid("UUIDv7", id, "length is not 36");
  for (size_t i = 0; i < id.size(); ++i) {
    const bool hyphen_here = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen_here) {
      if (id[i] != '-') return Invalid("UUIDv7", id, "hyphen expected");
    } else if (HexValue(id[i]) < 0) {
      return Invalid("UUIDv7", id, "not lowercase hexadecimal");
    }
  }
  if (id[14] != '7') return Invalid("UUIDv7", id, "version is not 7");
  const int variant = HexValue(id[19]);
  if ((variant & 0xc) != 0x8) {
    return Invalid("UUIDv7", id, "variant is not RFC 9562");
  }
  return absl::OkStatus();
}

absl::Status ValidateUlid(std::string_view id) {
  if (id.size() != 26) return Invalid("ULID", id, "length is not 26");
  for (char c : id) {
    if (CrockfordValue(c) < 0) {
      return Invalid("ULID", id, "not uppercase Crockford base32");
    }
  }
  if (id[0] > '7') return Invalid("ULID", id, "time overflows 48 bits");
  return absl::OkStatus();
}

absl::Status ValidateRecordId(std::string_view id) {
  if (id.size() == 36) return ValidateUuidV7(id);
  if (id.size() == 26) return ValidateUlid(id);
  return Invalid("id", id, "neither a UUIDv7 (36) nor a ULID (26 characters)");
}

absl::StatusOr<absl::Time> IdTime(std::string_view id) {
  if (absl::Status s = ValidateRecordId(id); !s.ok()) return s;
  int64_t millis = 0;
  if (id.size() == 36) {
    for (size_t i = 0; i < 13; ++i) {
      if (id[i] == '-') continue;
      millis = millis * 16 + HexValue(id[i]);
    }
  } else {
    for (size_t i = 0; i < 10; ++i)
      millis = millis * 32 + CrockfordValue(id[i]);
  }
  return absl::FromUnixMillis(millis);
}

absl::StatusOr<std::string> DerivedId(std::string_view id, std::string_view purpose) {
  absl::StatusOr<absl::Time> at = IdTime(id);
  if (!at.ok()) return at.status();
  std::string seed(id);
  seed.push_back('\n');
  seed.append(purpose);
  const std::string hash = Sha256::Of(seed);
  UuidRandomBytes random;
  for (std::size_t i = 0; i < random.size(); ++i) random[i] = static_cast<uint8_t>(hash[i]);
  return NewUuidV7(*at, random);
}

}  // namespace vigil::sync
