using NeuralNet.Serialization;

namespace NeuralNet.Tests.Serialization;

public class AtomicFileTests
{
    [Fact]
    public void SaveDeletesOnlyStaleTemporariesOfItsOwnPattern()
    {
        using var dir = new TempDirectory();
        DateTime old = DateTime.UtcNow - AtomicFile.StaleTemporaryAge - TimeSpan.FromMinutes(5);
        // What a kill -9 during a checkpoint save leaves behind.
        string orphan = dir.File($".checkpoint.safetensors.{Guid.NewGuid():N}.tmp");
        string orphanOfOtherTarget = dir.File($".history.csv.{Guid.NewGuid():N}.tmp");
        // A save still in progress in another process: recently modified.
        string live = dir.File($".model.safetensors.{Guid.NewGuid():N}.tmp");
        // Not ours: other names, however old.
        string[] foreign = [dir.File("notes.tmp"), dir.File(".cache.tmp"), dir.File($".x.{Guid.NewGuid():N}.tmp.bak"), dir.File($"x.{Guid.NewGuid():N}.tmp"), dir.File(".x.0123456789ABCDEF0123456789ABCDEF.tmp")];
        foreach (string f in (string[])[orphan, orphanOfOtherTarget, live, .. foreign])
        {
            File.WriteAllText(f, "partial");
            if (f != live) File.SetLastWriteTimeUtc(f, old);
        }

        AtomicFile.WriteAllBytes(dir.File("checkpoint.safetensors"), [1, 2, 3]);

        File.Exists(orphan).Should().BeFalse("an orphan older than StaleTemporaryAge is deleted by the next save");
        File.Exists(orphanOfOtherTarget).Should().BeFalse("any stale temporary of this class in the directory is an orphan");
        File.Exists(live).Should().BeTrue("a temporary modified recently may belong to a save in progress");
        foreach (string f in foreign)
            File.Exists(f).Should().BeTrue($"{Path.GetFileName(f)} does not match .<name>.<32 hex>.tmp");
        File.ReadAllBytes(dir.File("checkpoint.safetensors")).Should().Equal(1, 2, 3);
    }

    [Fact]
    public void CheckpointSaveCleansOrphansOfAKilledSave()
    {
        using var dir = new TempDirectory();
        string orphan = dir.File($".checkpoint.safetensors.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(orphan, new byte[4096]);
        File.SetLastWriteTimeUtc(orphan, DateTime.UtcNow.AddDays(-2));
        var file = new SafeTensorsFile();
        file.Add("x", new NdArray<float>(3));
        file.Save(dir.File("checkpoint.safetensors"));
        Directory.GetFiles(dir.Path).Select(Path.GetFileName).Should().Equal("checkpoint.safetensors");
    }
}
