// Files compiled into a program by cmake/embed_files.cmake (the dashboard's
// pages, import alembic's helper): their name and bytes. Header-only.
#ifndef FLEET_SERVING_EMBEDDED_FILE_H_
#define FLEET_SERVING_EMBEDDED_FILE_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace fleet::serving {

struct EmbeddedFile {
  const char* name;  // the file's name: "app.js"
  const unsigned char* data;
  size_t size;

  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// The file named `name` among `files`; null when there is none.
inline const EmbeddedFile* FindEmbedded(const std::vector<EmbeddedFile>& files,
                                        std::string_view name) {
  for (const EmbeddedFile& f : files) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

}  // namespace fleet::serving

#endif  // FLEET_SERVING_EMBEDDED_FILE_H_
