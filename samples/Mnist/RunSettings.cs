namespace MnistSample;

/// <summary>Where the training and test data come from.</summary>
public enum DataSource
{
    /// <summary>The four MNIST IDX files (gzipped or raw) in a directory.</summary>
    Idx,

    /// <summary>Two CSV files of rows <c>label,p1,…,p784</c> with pixels 0–255.</summary>
    Csv,

    /// <summary>The Spark reference's text files: 784 space-separated floats per line, one-hot label rows.</summary>
    SparkText,
}

/// <summary>A preset with every command-line override applied, plus the run's inputs and outputs.</summary>
public sealed record RunSettings
{
    /// <summary>The preset the run started from (its unmodified reference settings).</summary>
    public required Preset Preset { get; init; }

    /// <summary>The effective training settings: the preset with the overrides applied.</summary>
    public required Preset Effective { get; init; }

    /// <summary>Seed of every random choice (initialization, shuffling, sampling).</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Library thread limit (0 = all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Where the data come from.</summary>
    public DataSource Source { get; init; } = DataSource.Idx;

    /// <summary>Directory of the IDX files (null: <c>data/mnist</c> found upwards from the current directory or the executable).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Training and test CSV files (<see cref="DataSource.Csv"/>).</summary>
    public string[] CsvFiles { get; init; } = [];

    /// <summary>TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS of the Spark reference (<see cref="DataSource.SparkText"/>).</summary>
    public string[] SparkFiles { get; init; } = [];

    /// <summary>The output directory.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>A checkpoint to continue from, or null.</summary>
    public string? Resume { get; init; }

    /// <summary>A test accuracy in percent at which training stops (evaluated after every epoch), or null to run every epoch.</summary>
    public double? TargetAccuracy { get; init; }

    /// <summary>Print one JSON summary line instead of the human-readable console.</summary>
    public bool Json { get; init; }

    /// <summary>Train data-parallel over MPI ranks.</summary>
    public bool Distributed { get; init; }

    /// <summary>Skip writing report.html (the other outputs are still written).</summary>
    public bool NoReport { get; init; }

    /// <summary>With <see cref="Distributed"/>: how long a rank waits in one collective before it names the ranks that
    /// did not arrive and ends the job; null for the library default (60 s or <c>NEURALNET_COLLECTIVE_TIMEOUT</c>),
    /// <see cref="Timeout.InfiniteTimeSpan"/> to wait forever.</summary>
    public TimeSpan? CollectiveTimeout { get; init; }

    /// <summary>Force plain line output even on a terminal.</summary>
    public bool Plain { get; init; }
}
