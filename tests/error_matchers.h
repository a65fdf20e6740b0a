// Assertions on pg::Error messages: the error must happen and must name the input.
//   EXPECT_ERROR_HAS(reader.Read("x"), "dataset 'x'");
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "runtime/check.h"

namespace pg::testing {

// The message of the pg::Error `fn` throws, or "<no error>".
inline std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace pg::testing

#define EXPECT_ERROR_HAS(stmt, needle)                                                  \
  do {                                                                                  \
    const std::string msg_ = ::pg::testing::ErrorOf([&] { stmt; });                     \
    EXPECT_NE(msg_.find(needle), std::string::npos) << "message: " << msg_;             \
  } while (0)
