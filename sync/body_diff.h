// Which fields of a record body an edit changed, for the review desk's
// side-by-side views.
#ifndef VIGIL_SYNC_BODY_DIFF_H_
#define VIGIL_SYNC_BODY_DIFF_H_

#include <string>
#include <vector>

#include "vigil/v1/record.pb.h"

namespace vigil::sync {

// The fields of `to`'s kind (by name, in field-number order) whose value
// differs from `from`'s; every field `to` sets when `from` is of another
// kind or empty. Empty when `to` has no kind.
std::vector<std::string> ChangedFields(const vigil::v1::RecordBody& from,
                                       const vigil::v1::RecordBody& to);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_BODY_DIFF_H_
