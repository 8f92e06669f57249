// The deployment files cannot run here (no cluster, no systemd), so they are
// read: every Kubernetes manifest is parsed with yaml-cpp and the fields that
// make or break a deployment are checked, and the configuration files they
// embed are parsed by the same code the programs use.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "agent/agent_config.h"
#include "controller/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace fleet {
namespace {

using ::fleet::testing::ReadWhole;

using ::testing::Contains;
using ::testing::HasSubstr;

const std::string kK8s = FLEET_SOURCE_DIR "/deploy/k8s";

struct Manifest {
  std::string file;
  std::vector<YAML::Node> docs;
  std::set<std::string> documented_secrets;  // "#   name: keys" under "Secrets it expects"
};

std::vector<Manifest> LoadManifests() {
  std::vector<Manifest> out;
  for (const auto& e : std::filesystem::directory_iterator(kK8s)) {
    if (e.path().extension() != ".yaml") continue;
    Manifest m;
    m.file = e.path().filename().string();
    for (const YAML::Node& doc : YAML::LoadAllFromFile(e.path().string())) {
      if (doc && doc.IsMap()) m.docs.push_back(doc);
    }
    std::istringstream text(ReadWhole(e.path().string()));
    bool in_secrets = false;
    std::regex entry("^#   ([a-z0-9-]+): .*");
    for (std::string line; std::getline(text, line);) {
      if (absl::StrContains(line, "Secrets it expects")) in_secrets = true;
      std::smatch m2;
      if (in_secrets && std::regex_match(line, m2, entry)) m.documented_secrets.insert(m2[1]);
      if (line.rfind('#', 0) != 0) in_secrets = false;
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.file < b.file; });
  return out;
}

std::vector<YAML::Node> OfKind(const Manifest& m, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const auto& d : m.docs) {
    if (d["kind"].as<std::string>() == kind) out.push_back(d);
  }
  return out;
}

std::string Name(const YAML::Node& n) { return n["metadata"]["name"].as<std::string>(); }

TEST(K8sManifestsTest, EveryManifestParsesAndHasWorkloads) {
  auto manifests = LoadManifests();
  std::set<std::string> files;
  for (const auto& m : manifests) {
    files.insert(m.file);
    for (const auto& d : m.docs) {
      EXPECT_TRUE(d["apiVersion"] && d["kind"] && d["metadata"]["name"]) << m.file;
    }
  }
  EXPECT_EQ(files, (std::set<std::string>{"agent-sidecar.yaml", "agent.yaml", "controller.yaml",
                                          "controller-ha.yaml"}));
}

TEST(K8sManifestsTest, PodsAreWiredTogether) {
  for (const Manifest& m : LoadManifests()) {
    std::set<std::string> configmaps, claims;
    for (const auto& c : OfKind(m, "ConfigMap")) configmaps.insert(Name(c));
    for (const auto& c : OfKind(m, "PersistentVolumeClaim")) claims.insert(Name(c));
    std::vector<YAML::Node> workloads = OfKind(m, "Deployment");
    for (const auto& s : OfKind(m, "StatefulSet")) workloads.push_back(s);
    ASSERT_FALSE(workloads.empty()) << m.file;
    for (const YAML::Node& w : workloads) {
      std::string where = m.file + " " + Name(w);
      YAML::Node pod = w["spec"]["template"]["spec"];
      std::set<std::string> volumes;
      for (const auto& t : w["spec"]["volumeClaimTemplates"]) volumes.insert(Name(t));
      // The selector picks the pod template.
      for (const auto& kv : w["spec"]["selector"]["matchLabels"]) {
        EXPECT_EQ(w["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()]
                      .as<std::string>(),
                  kv.second.as<std::string>())
            << where;
      }
      for (const auto& v : pod["volumes"]) {
        volumes.insert(v["name"].as<std::string>());
        if (v["configMap"]) {
          EXPECT_THAT(configmaps, Contains(v["configMap"]["name"].as<std::string>())) << where;
        }
        if (v["persistentVolumeClaim"]) {
          EXPECT_THAT(claims, Contains(v["persistentVolumeClaim"]["claimName"].as<std::string>()))
              << where;
        }
        if (v["secret"]) {
          EXPECT_THAT(m.documented_secrets, Contains(v["secret"]["secretName"].as<std::string>()))
              << where << ": a Secret the header does not document";
        }
      }
      for (const auto& c : pod["containers"]) {
        std::string container = where + "/" + c["name"].as<std::string>();
        std::string image = c["image"].as<std::string>();
        ASSERT_NE(image.find(':'), std::string::npos) << container << ": image without a tag";
        EXPECT_FALSE(absl::EndsWith(image, ":latest")) << container;
        bool ours = absl::StrContains(image, "/fleet:");
        if (ours) {
          EXPECT_TRUE(absl::EndsWith(image, ":" FLEET_VERSION)) << container << " " << image;
          EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].as<bool>()) << container;
          EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>()) << container;
        }
        std::set<std::string> ports;
        for (const auto& p : c["ports"]) ports.insert(p["name"].as<std::string>());
        for (const char* probe : {"readinessProbe", "livenessProbe"}) {
          ASSERT_TRUE(c[probe]) << container << " has no " << probe;
          if (c[probe]["httpGet"]) {
            EXPECT_THAT(ports, Contains(c[probe]["httpGet"]["port"].as<std::string>())) << container;
            // Liveness on /healthz; readiness too, or on /readyz (a standby
            // is alive but not ready).
            const std::string path = c[probe]["httpGet"]["path"].as<std::string>();
            if (std::string(probe) == "readinessProbe") {
              EXPECT_THAT(path, ::testing::AnyOf("/healthz", "/readyz")) << container;
            } else {
              EXPECT_EQ(path, "/healthz") << container;
            }
          } else {
            EXPECT_FALSE(ours) << container << ": fleet's probes are HTTP /healthz";
          }
        }
        if (ours) {
          // The health endpoint is served: --http binds the probed port.
          bool http = false;
          for (const auto& a : c["args"]) http |= absl::StartsWith(a.as<std::string>(), "--http=0.0.0.0:");
          EXPECT_TRUE(http) << container << ": probes need --http on the pod address";
        }
        std::vector<std::string> mounts;
        for (const auto& vm : c["volumeMounts"]) {
          EXPECT_THAT(volumes, Contains(vm["name"].as<std::string>())) << container;
          mounts.push_back(vm["mountPath"].as<std::string>());
        }
        // Every file an argument names lies under a mounted volume.
        for (const auto& a : c["args"]) {
          std::string arg = a.as<std::string>();
          size_t eq = arg.find("=/");
          if (eq == std::string::npos) continue;
          std::string path = arg.substr(eq + 1);
          bool mounted = false;
          for (const auto& mp : mounts) mounted |= absl::StartsWith(path, mp + "/");
          EXPECT_TRUE(mounted) << container << ": " << arg << " is on no volume";
        }
        for (const auto& e : c["envFrom"]) {
          if (e["secretRef"]) {
            EXPECT_THAT(m.documented_secrets, Contains(e["secretRef"]["name"].as<std::string>()))
                << container;
          }
        }
        for (const auto& e : c["env"]) {
          if (e["valueFrom"] && e["valueFrom"]["secretKeyRef"]) {
            EXPECT_THAT(m.documented_secrets,
                        Contains(e["valueFrom"]["secretKeyRef"]["name"].as<std::string>()))
                << container;
          }
        }
      }
    }
    // Services reach named ports of the pods they select.
    for (const YAML::Node& svc : OfKind(m, "Service")) {
      for (const auto& p : svc["spec"]["ports"]) {
        std::string target = p["targetPort"].as<std::string>();
        bool found = false;
        for (const YAML::Node& w : workloads) {
          for (const auto& c : w["spec"]["template"]["spec"]["containers"]) {
            for (const auto& cp : c["ports"]) found |= cp["name"].as<std::string>() == target;
          }
        }
        EXPECT_TRUE(found) << m.file << " service " << Name(svc) << " targets no port " << target;
      }
    }
  }
}

TEST(K8sManifestsTest, TheControllerIsOneWriterWithTlsAndAuth) {
  for (const Manifest& m : LoadManifests()) {
    if (m.file != "controller.yaml") continue;
    auto deployments = OfKind(m, "Deployment");
    ASSERT_EQ(deployments.size(), 1u);
    const YAML::Node& d = deployments[0];
    EXPECT_EQ(d["spec"]["replicas"].as<int>(), 1);
    EXPECT_EQ(d["spec"]["strategy"]["type"].as<std::string>(), "Recreate");
    std::string args;
    for (const auto& a : d["spec"]["template"]["spec"]["containers"][0]["args"]) {
      args += a.as<std::string>() + " ";
    }
    for (const char* flag : {"--tls-cert=", "--tls-key=", "--auth=", "--agent-tls-cert=",
                             "--agent-tls-key=", "--agent-tls-ca=", "--db=/var/lib/fleet/"}) {
      EXPECT_THAT(args, HasSubstr(flag));
    }
    EXPECT_THAT(args, ::testing::Not(HasSubstr("--insecure")));
    return;
  }
  FAIL() << "no controller.yaml";
}

TEST(K8sManifestsTest, TheHighlyAvailableControllerSharesAPostgresInventory) {
  for (const Manifest& m : LoadManifests()) {
    if (m.file != "controller-ha.yaml") continue;
    auto deployments = OfKind(m, "Deployment");
    ASSERT_EQ(deployments.size(), 1u);
    const YAML::Node& d = deployments[0];
    EXPECT_EQ(d["spec"]["replicas"].as<int>(), 2);
    const YAML::Node& c = d["spec"]["template"]["spec"]["containers"][0];
    std::string args;
    for (const auto& a : c["args"]) args += a.as<std::string>() + " ";
    for (const char* flag : {"--db=$(FLEET_DB)", "--advertise=$(POD_IP):7080", "--leader-timeout=",
                             "--tls-cert=", "--auth=", "--agent-tls-ca="}) {
      EXPECT_THAT(args, HasSubstr(flag));
    }
    EXPECT_THAT(args, ::testing::Not(HasSubstr("--insecure")));
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
    std::set<std::string> env;
    for (const auto& e : c["env"]) env.insert(e["name"].as<std::string>());
    EXPECT_EQ(env, (std::set<std::string>{"FLEET_DB", "PGPASSFILE", "POD_IP"}));
    return;
  }
  FAIL() << "no controller-ha.yaml";
}

// The configuration embedded in ConfigMaps and shipped for systemd is what
// the programs accept.
TEST(K8sManifestsTest, EmbeddedConfigurationParses) {
  auto any_env = [](const char*) -> const char* { return "host=db dbname=t user=u"; };
  int agents = 0, auths = 0;
  for (const Manifest& m : LoadManifests()) {
    for (const YAML::Node& cm : OfKind(m, "ConfigMap")) {
      for (const auto& kv : cm["data"]) {
        std::string key = kv.first.as<std::string>(), text = kv.second.as<std::string>();
        std::string where = m.file + " " + Name(cm) + " " + key;
        if (key == "agent.toml") {
          auto c = agent::ParseAgentConfig(where, text, any_env);
          EXPECT_TRUE(c.ok()) << c.status();
          if (c.ok()) {
            EXPECT_TRUE(c->tls.has_value()) << where << ": an agent without TLS";
          }
          ++agents;
        } else if (key == "auth.toml") {
          auto c = controller::ParseAuthConfig(where, text);
          EXPECT_TRUE(c.ok()) << c.status();
          ++auths;
        }
      }
    }
  }
  EXPECT_EQ(agents, 2);
  EXPECT_EQ(auths, 2);  // controller.yaml and controller-ha.yaml
  std::string systemd = FLEET_SOURCE_DIR "/deploy/systemd/";
  auto c = agent::ParseAgentConfig("agent.toml", ReadWhole(systemd + "agent.toml"), any_env);
  EXPECT_TRUE(c.ok()) << c.status();
  for (const char* unit : {"fleet-agent.service", "fleet-controller.service"}) {
    std::string text = ReadWhole(systemd + unit);
    for (const char* line : {"NoNewPrivileges=true", "LimitCORE=0", "ProtectSystem=strict",
                             "ReadWritePaths=/var/lib/",
                             "ExecReload=/bin/kill -HUP $MAINPID", "EnvironmentFile=/etc/fleet/",
                             "User=fleet"}) {
      EXPECT_THAT(text, HasSubstr(line)) << unit;
    }
    EXPECT_THAT(text, ::testing::Not(HasSubstr("--insecure"))) << unit;
  }
}

}  // namespace
}  // namespace fleet
