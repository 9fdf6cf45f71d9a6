// Whether a host names this machine's loopback interface, for the places
// that allow plaintext only there (vigild's listen address, the client's
// server address).
#ifndef VIGIL_BASE_LOOPBACK_H_
#define VIGIL_BASE_LOOPBACK_H_

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace vigil {

// True for "localhost" and literal addresses in 127.0.0.0/8 or ::1 only: a
// name such as "127.example.org" is resolved elsewhere.
inline bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace vigil

#endif  // VIGIL_BASE_LOOPBACK_H_
