// Result<T>: a value or an Error {code, message}, for operations that can fail for reasons a
// client, a peer, Docker or the OS can cause. No exception crosses the event loop; functions
// on the data plane return a Result (or an int -errno, libuv-style) instead.
// Error codes are the stable, machine-readable strings that reach clients in JSON errors.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace common {

struct Error {
  std::string code;     // e.g. "MISSING_KEY_PARAM"; stable, shown to clients
  std::string message;  // human-readable detail for logs; may be empty
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status okStatus() {
  return Ok{};
}

}  // namespace common
