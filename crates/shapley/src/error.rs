//! Errors of the Shapley computations.

use thiserror::Error;

/// Why a Shapley computation could not be done.
///
/// Every variant names what the caller can change; none is a panic because the inputs (feature
/// tables, models, option values) come from users and other crates.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ShapleyError {
    /// Nothing to attribute to: a Shapley value needs at least one player.
    #[error("no players to explain: the input has zero features (or zero groups / players)")]
    NoPlayers,

    /// Exact enumeration costs 2^players coalitions; beyond the limit it is refused rather than
    /// silently taking minutes or exhausting memory.
    #[error(
        "exact Shapley values need all 2^{players} coalitions; at most {limit} players are \
         enumerated exactly — use Kernel SHAP (`kernel_shap` / `TabularExplainer::kernel`) \
         for {players} players, or group features into at most {limit} groups"
    )]
    TooManyPlayers {
        /// Players asked for.
        players: usize,
        /// [`crate::MAX_EXACT_PLAYERS`].
        limit: usize,
    },

    /// The interventional value function averages over background rows; with none it is undefined.
    #[error(
        "background set is empty: the interventional value function averages the model over background rows, give at least one"
    )]
    EmptyBackground,

    /// A row does not have the number of features the background defines.
    #[error(
        "{what} has {found} features, expected {expected} (the width of the first background row)"
    )]
    WidthMismatch {
        /// Which row ("background row 3", "explained row").
        what: String,
        /// Features expected.
        expected: usize,
        /// Features found.
        found: usize,
    },

    /// The model broke its contract of one output per input row.
    #[error(
        "model returned {found} outputs for a batch of {expected} rows (it must return exactly one output per row)"
    )]
    OutputLength {
        /// Rows sent.
        expected: usize,
        /// Outputs received.
        found: usize,
    },

    /// The model (or value function) produced NaN/inf: any Shapley value built on it would be
    /// meaningless, so the coalition is named to help find the offending masked input.
    #[error(
        "non-finite value {value} for coalition {coalition:?} (players present; all other \
         players taken from the background / masked as missing)"
    )]
    NonFiniteOutput {
        /// Indices of the players present in the coalition.
        coalition: Vec<usize>,
        /// The offending value.
        value: f64,
    },

    /// Feature groups must partition the features so that every coalition of groups defines
    /// unambiguously which features come from the explained row.
    #[error("invalid feature groups: {0}")]
    InvalidGroups(String),

    /// An option value that cannot work (for example a zero batch size).
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// The sampled coalitions do not determine every player's value in the weighted regression.
    #[error(
        "Kernel SHAP regression is singular with {samples} coalitions for {players} players: \
         raise nsamples (or group features)"
    )]
    SingularRegression {
        /// Coalitions in the regression.
        samples: usize,
        /// Players (varying ones) in the regression.
        players: usize,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ShapleyError>;
