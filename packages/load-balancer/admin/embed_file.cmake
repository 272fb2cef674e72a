# Turns a file into a C++ header holding its bytes, at build time (cmake -P):
#   cmake -DIN=page.html -DOUT=page_html.h -DNAME=kStatusPageHtml -P embed_file.cmake
# The header defines `inline constexpr unsigned char NAME[]` and `NAME##Size`; the file stays an
# ordinary file to edit (and to open in a browser), never a string literal in the sources.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR size "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE ${OUT} "// Generated from ${IN} by embed_file.cmake. Do not edit.\n#pragma once\n#include <cstddef>\n"
     "inline constexpr unsigned char ${NAME}[] = {\n${bytes}0x00};\n"
     "inline constexpr std::size_t ${NAME}Size = ${size};\n")
