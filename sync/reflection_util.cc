#include "sync/reflection_util.h"

#include <cstdint>
#include <cstring>

#include "google/protobuf/unknown_field_set.h"

namespace vigil::sync {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

template <typename T>
uint64_t Bits(T value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(value));
  return bits;
}

bool ElementEqual(const Message& a, const Reflection* ra, const Message& b,
                  const Reflection* rb, const FieldDescriptor* f, int i) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return ra->GetRepeatedInt32(a, f, i) == rb->GetRepeatedInt32(b, f, i);
    case FieldDescriptor::CPPTYPE_INT64:
      return ra->GetRepeatedInt64(a, f, i) == rb->GetRepeatedInt64(b, f, i);
    case FieldDescriptor::CPPTYPE_UINT32:
      return ra->GetRepeatedUInt32(a, f, i) == rb->GetRepeatedUInt32(b, f, i);
    case FieldDescriptor::CPPTYPE_UINT64:
      return ra->GetRepeatedUInt64(a, f, i) == rb->GetRepeatedUInt64(b, f, i);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Bits(ra->GetRepeatedDouble(a, f, i)) ==
             Bits(rb->GetRepeatedDouble(b, f, i));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Bits(ra->GetRepeatedFloat(a, f, i)) ==
             Bits(rb->GetRepeatedFloat(b, f, i));
    case FieldDescriptor::CPPTYPE_BOOL:
      return ra->GetRepeatedBool(a, f, i) == rb->GetRepeatedBool(b, f, i);
    case FieldDescriptor::CPPTYPE_ENUM:
      return ra->GetRepeatedEnumValue(a, f, i) ==
             rb->GetRepeatedEnumValue(b, f, i);
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string sa, sb;
      return ra->GetRepeatedStringReference(a, f, i, &sa) ==
             rb->GetRepeatedStringReference(b, f, i, &sb);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessagesEqual(ra->GetRepeatedMessage(a, f, i),
                           rb->GetRepeatedMessage(b, f, i));
  }
  return false;
}

bool SingularEqual(const Message& a, const Reflection* ra, const Message& b,
                   const Reflection* rb, const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return ra->GetInt32(a, f) == rb->GetInt32(b, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return ra->GetInt64(a, f) == rb->GetInt64(b, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return ra->GetUInt32(a, f) == rb->GetUInt32(b, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return ra->GetUInt64(a, f) == rb->GetUInt64(b, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Bits(ra->GetDouble(a, f)) == Bits(rb->GetDouble(b, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Bits(ra->GetFloat(a, f)) == Bits(rb->GetFloat(b, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return ra->GetBool(a, f) == rb->GetBool(b, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return ra->GetEnumValue(a, f) == rb->GetEnumValue(b, f);
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string sa, sb;
      return ra->GetStringReference(a, f, &sa) ==
             rb->GetStringReference(b, f, &sb);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessagesEqual(ra->GetMessage(a, f), rb->GetMessage(b, f));
  }
  return false;
}

void AppendBigEndian(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

}  // namespace

bool FieldPresent(const Message& m, const FieldDescriptor* f) {
  return f->is_repeated() ? m.GetReflection()->FieldSize(m, f) > 0
                          : m.GetReflection()->HasField(m, f);
}

int FieldSize(const Message& m, const FieldDescriptor* f) {
  return m.GetReflection()->FieldSize(m, f);
}

bool FieldEqual(const Message& a, const Reflection* ra, const Message& b,
                const Reflection* rb, const FieldDescriptor* f) {
  if (f->is_repeated()) {
    const int n = ra->FieldSize(a, f);
    if (n != rb->FieldSize(b, f)) return false;
    for (int i = 0; i < n; ++i) {
      if (!ElementEqual(a, ra, b, rb, f, i)) return false;
    }
    return true;
  }
  const bool has_a = ra->HasField(a, f);
  if (has_a != rb->HasField(b, f)) return false;
  return !has_a || SingularEqual(a, ra, b, rb, f);
}

bool FieldEqual(const Message& a, const Message& b, const FieldDescriptor* f) {
  return FieldEqual(a, a.GetReflection(), b, b.GetReflection(), f);
}

bool MessagesEqual(const Message& a, const Message& b) {
  if (&a == &b) return true;
  const google::protobuf::Descriptor* type = a.GetDescriptor();
  if (b.GetDescriptor() != type) return false;
  const Reflection* ra = a.GetReflection();
  const Reflection* rb = b.GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    if (!FieldEqual(a, ra, b, rb, type->field(i))) return false;
  }
  const auto& ua = ra->GetUnknownFields(a);
  const auto& ub = rb->GetUnknownFields(b);
  if (ua.empty() && ub.empty()) return true;
  std::string sa, sb;
  ua.SerializeToString(&sa);
  ub.SerializeToString(&sb);
  return sa == sb;
}

void CopyField(const Message& from, Message* to, const FieldDescriptor* f) {
  const Reflection* rf = from.GetReflection();
  const Reflection* rt = to->GetReflection();
  if (f->is_repeated()) {
    rt->ClearField(to, f);
    const int n = rf->FieldSize(from, f);
    for (int i = 0; i < n; ++i) AddElementFrom(from, f, i, to);
    return;
  }
  if (!rf->HasField(from, f)) {
    rt->ClearField(to, f);
    return;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rt->SetInt32(to, f, rf->GetInt32(from, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return rt->SetInt64(to, f, rf->GetInt64(from, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return rt->SetUInt32(to, f, rf->GetUInt32(from, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return rt->SetUInt64(to, f, rf->GetUInt64(from, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rt->SetDouble(to, f, rf->GetDouble(from, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rt->SetFloat(to, f, rf->GetFloat(from, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return rt->SetBool(to, f, rf->GetBool(from, f));
    case FieldDescriptor::CPPTYPE_ENUM:
      return rt->SetEnumValue(to, f, rf->GetEnumValue(from, f));
    case FieldDescriptor::CPPTYPE_STRING:
      return rt->SetString(to, f, rf->GetString(from, f));
    case FieldDescriptor::CPPTYPE_MESSAGE:
      rt->MutableMessage(to, f)->CopyFrom(rf->GetMessage(from, f));
      return;
  }
}

void AddElementFrom(const Message& from, const FieldDescriptor* f, int i,
                    Message* to) {
  const Reflection* rf = from.GetReflection();
  const Reflection* rt = to->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rt->AddInt32(to, f, rf->GetRepeatedInt32(from, f, i));
    case FieldDescriptor::CPPTYPE_INT64:
      return rt->AddInt64(to, f, rf->GetRepeatedInt64(from, f, i));
    case FieldDescriptor::CPPTYPE_UINT32:
      return rt->AddUInt32(to, f, rf->GetRepeatedUInt32(from, f, i));
    case FieldDescriptor::CPPTYPE_UINT64:
      return rt->AddUInt64(to, f, rf->GetRepeatedUInt64(from, f, i));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rt->AddDouble(to, f, rf->GetRepeatedDouble(from, f, i));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rt->AddFloat(to, f, rf->GetRepeatedFloat(from, f, i));
    case FieldDescriptor::CPPTYPE_BOOL:
      return rt->AddBool(to, f, rf->GetRepeatedBool(from, f, i));
    case FieldDescriptor::CPPTYPE_ENUM:
      return rt->AddEnumValue(to, f, rf->GetRepeatedEnumValue(from, f, i));
    case FieldDescriptor::CPPTYPE_STRING:
      return rt->AddString(to, f, rf->GetRepeatedString(from, f, i));
    case FieldDescriptor::CPPTYPE_MESSAGE:
      rt->AddMessage(to, f)->CopyFrom(rf->GetRepeatedMessage(from, f, i));
      return;
  }
}

std::string ElementKey(const Message& m, const FieldDescriptor* f, int i) {
  const Reflection* r = m.GetReflection();
  std::string key;
  constexpr uint64_t kSignFlip = uint64_t{1} << 63;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      AppendBigEndian(static_cast<uint64_t>(
                          static_cast<int64_t>(r->GetRepeatedInt32(m, f, i))) ^
                          kSignFlip,
                      &key);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      AppendBigEndian(static_cast<uint64_t>(static_cast<int64_t>(
                          r->GetRepeatedEnumValue(m, f, i))) ^
                          kSignFlip,
                      &key);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      AppendBigEndian(
          static_cast<uint64_t>(r->GetRepeatedInt64(m, f, i)) ^ kSignFlip,
          &key);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      AppendBigEndian(r->GetRepeatedUInt32(m, f, i), &key);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      AppendBigEndian(r->GetRepeatedUInt64(m, f, i), &key);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      key.push_back(r->GetRepeatedBool(m, f, i) ? 1 : 0);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendBigEndian(Bits(r->GetRepeatedDouble(m, f, i)), &key);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendBigEndian(Bits(r->GetRepeatedFloat(m, f, i)), &key);
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      key = r->GetRepeatedString(m, f, i);
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      key = m.GetReflection()->GetRepeatedMessage(m, f, i).SerializeAsString();
      break;
  }
  return key;
}

}  // namespace vigil::sync
