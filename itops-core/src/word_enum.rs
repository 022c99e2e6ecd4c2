//! A fieldless enum that reads and writes as one snake_case word.

/// Defines a fieldless enum with `ALL`, `as_str`, `Display`, `FromStr` (errors list the
/// accepted words) and serde as the same words. Exported for the other itops crates (the
/// simulator's enums read and write the same way); the crate using it needs `serde` and
/// `schemars`. Not part of the public API.
#[doc(hidden)]
#[macro_export]
macro_rules! word_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $word)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The value's word.
            pub fn as_str(&self) -> &'static str {
                match self { $( $name::$variant => $word ),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                $( if wanted == $word { return Ok($name::$variant); } )+
                Err($crate::Error::UnknownVariant {
                    what: $what,
                    value: s.to_string(),
                    expected: [$( $word ),+].join(", "),
                })
            }
        }
    };
}

pub(crate) use crate::word_enum;
