//! The languages table: names, aliases, toolchains, and how to build and run a
//! program, as data. Adding a language is adding an entry here.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LanguageId {
    C,
    Cpp,
    Python,
    JavaScript,
    Java,
    Go,
    TypeScript,
    Rust,
}

/// One supported language.
#[derive(Debug)]
pub struct Language {
    pub id: LanguageId,
    /// Stable key used in URLs, cache keys and logs.
    pub key: &'static str,
    /// The name the SR Compiler frontend sends.
    pub display_name: &'static str,
    /// Other accepted names (matched case-insensitively, like `key` and `display_name`).
    pub aliases: &'static [&'static str],
    /// Programs that must be on the sandbox `PATH`; the first one's version is reported.
    pub toolchain: &'static [&'static str],
    /// Arguments that make the first toolchain program print its version.
    pub version_args: &'static [&'static str],
    /// Whether a build step produces an artifact that the compile cache keeps.
    pub compiled: bool,
}

pub const LANGUAGES: &[Language] = &[
    Language {
        id: LanguageId::C,
        key: "c",
        display_name: "C",
        aliases: &["gcc"],
        toolchain: &["gcc"],
        version_args: &["-dumpfullversion"],
        compiled: true,
    },
    Language {
        id: LanguageId::Cpp,
        key: "cpp",
        display_name: "C++",
        aliases: &["c++", "g++", "cxx", "cc"],
        toolchain: &["g++"],
        version_args: &["-dumpfullversion"],
        compiled: true,
    },
    Language {
        id: LanguageId::Python,
        key: "python",
        display_name: "Python",
        aliases: &["py", "python3", "py3"],
        toolchain: &["python3"],
        version_args: &["--version"],
        compiled: false,
    },
    Language {
        id: LanguageId::JavaScript,
        key: "javascript",
        display_name: "JavaScript",
        aliases: &["js", "node", "nodejs"],
        toolchain: &["node"],
        version_args: &["--version"],
        compiled: false,
    },
    Language {
        id: LanguageId::Java,
        key: "java",
        display_name: "Java",
        aliases: &[],
        toolchain: &["javac", "java"],
        version_args: &["-version"],
        compiled: true,
    },
    Language {
        id: LanguageId::Go,
        key: "go",
        display_name: "Go",
        aliases: &["golang"],
        toolchain: &["go"],
        version_args: &["version"],
        compiled: true,
    },
    Language {
        id: LanguageId::TypeScript,
        key: "typescript",
        display_name: "TypeScript",
        aliases: &["ts"],
        toolchain: &["tsc", "node"],
        version_args: &["--version"],
        compiled: true,
    },
    Language {
        id: LanguageId::Rust,
        key: "rust",
        display_name: "Rust",
        aliases: &["rs", "rustc"],
        toolchain: &["rustc"],
        version_args: &["--version"],
        compiled: true,
    },
];

impl Language {
    /// Finds a language by key, display name or alias, ignoring case and spaces.
    pub fn lookup(name: &str) -> Option<&'static Language> {
        let wanted = name.trim().to_ascii_lowercase();
        LANGUAGES.iter().find(|lang| {
            lang.key == wanted
                || lang.display_name.eq_ignore_ascii_case(&wanted)
                || lang.aliases.contains(&wanted.as_str())
        })
    }

    pub fn get(id: LanguageId) -> &'static Language {
        LANGUAGES
            .iter()
            .find(|lang| lang.id == id)
            .expect("every LanguageId has a table entry")
    }

    /// The file the user's code is written to.
    pub fn source_file_name(&self, code: &str) -> String {
        match self.id {
            LanguageId::C => "main.c".into(),
            LanguageId::Cpp => "main.cpp".into(),
            LanguageId::Python => "main.py".into(),
            LanguageId::JavaScript => "main.js".into(),
            LanguageId::Java => format!("{}.java", java_public_class(code).unwrap_or("Main")),
            LanguageId::Go => "main.go".into(),
            LanguageId::TypeScript => "main.ts".into(),
            LanguageId::Rust => "main.rs".into(),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name)
    }
}

/// Removes comments and string literals so that class names are not found inside them.
fn strip_java_comments_and_strings(code: &str) -> String {
    static NOISE: OnceLock<Regex> = OnceLock::new();
    let noise = NOISE.get_or_init(|| {
        Regex::new(r#"(?s)/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'"#)
            .expect("valid regex")
    });
    noise.replace_all(code, " ").into_owned()
}

/// The top-level `public class` of a Java source, which must name its file.
pub fn java_public_class(code: &str) -> Option<&str> {
    static PUBLIC_CLASS: OnceLock<Regex> = OnceLock::new();
    let re = PUBLIC_CLASS.get_or_init(|| {
        Regex::new(r"(?m)^\s*public\s+(?:(?:final|abstract|strictfp)\s+)*(?:class|interface|enum|record)\s+([A-Za-z_$][A-Za-z0-9_$]*)")
            .expect("valid regex")
    });
    let cleaned = strip_java_comments_and_strings(code);
    let name = re.captures(&cleaned)?.get(1)?.as_str();
    // Hand back a slice of the caller's string, not of the cleaned copy.
    code.find(name)
        .map(|start| &code[start..start + name.len()])
}

/// The class whose `main` the JVM should start: the last class declared before the
/// first `static void main`, falling back to the public class, then `Main`.
pub fn java_main_class(code: &str) -> String {
    static CLASS: OnceLock<Regex> = OnceLock::new();
    static MAIN: OnceLock<Regex> = OnceLock::new();
    let class_re = CLASS.get_or_init(|| {
        Regex::new(r"\b(?:class|interface|enum|record)\s+([A-Za-z_$][A-Za-z0-9_$]*)")
            .expect("valid regex")
    });
    let main_re = MAIN.get_or_init(|| {
        Regex::new(r"\bstatic\s+(?:public\s+|final\s+)*void\s+main\s*\(").expect("valid regex")
    });
    let cleaned = strip_java_comments_and_strings(code);
    if let Some(main_at) = main_re.find(&cleaned).map(|m| m.start()) {
        if let Some(class) = class_re
            .captures_iter(&cleaned[..main_at])
            .last()
            .and_then(|c| c.get(1))
        {
            return class.as_str().to_string();
        }
    }
    java_public_class(code).unwrap_or("Main").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontend_names_and_aliases_resolve_case_insensitively() {
        let cases = [
            ("C++", LanguageId::Cpp),
            ("cpp", LanguageId::Cpp),
            ("c++", LanguageId::Cpp),
            ("C", LanguageId::C),
            ("Python", LanguageId::Python),
            ("py", LanguageId::Python),
            ("PYTHON3", LanguageId::Python),
            ("JavaScript", LanguageId::JavaScript),
            ("js", LanguageId::JavaScript),
            ("node", LanguageId::JavaScript),
            ("Java", LanguageId::Java),
            ("Go", LanguageId::Go),
            ("golang", LanguageId::Go),
            ("TypeScript", LanguageId::TypeScript),
            ("ts", LanguageId::TypeScript),
            ("rs", LanguageId::Rust),
            (" Rust ", LanguageId::Rust),
        ];
        for (name, id) in cases {
            assert_eq!(Language::lookup(name).map(|l| l.id), Some(id), "{name}");
        }
        assert!(Language::lookup("brainfuck").is_none());
        assert!(Language::lookup("").is_none());
    }

    #[test]
    fn java_file_is_named_after_the_public_class() {
        let code = "import java.util.*;\n// public class Fake {}\npublic class Solution {\n public static void main(String[] a) {}\n}\n";
        assert_eq!(
            Language::get(LanguageId::Java).source_file_name(code),
            "Solution.java"
        );
        assert_eq!(java_main_class(code), "Solution");
    }

    #[test]
    fn java_main_class_is_found_without_a_public_class() {
        let code = "class Helper { int x; }\nclass Program {\n  public static void main(String[] args) { System.out.println(\"class Nope\"); }\n}\n";
        assert_eq!(
            Language::get(LanguageId::Java).source_file_name(code),
            "Main.java"
        );
        assert_eq!(java_main_class(code), "Program");
    }
}
