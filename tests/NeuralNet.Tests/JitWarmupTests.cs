namespace NeuralNet.Tests;

public class JitWarmupTests
{
    [Fact]
    public void StartProfile_CreatesTheDirectory_AndReportsWhetherAProfileExists()
    {
        string dir = Path.Combine(Path.GetTempPath(), "nn-jit-" + Guid.NewGuid().ToString("N"));
        try
        {
            JitWarmup.StartProfile(dir, "first.jitprofile").Should().BeFalse("no earlier launch recorded this profile");
            Directory.Exists(dir).Should().BeTrue();
            File.WriteAllBytes(Path.Combine(dir, "second.jitprofile"), []);
            JitWarmup.StartProfile(dir, "second.jitprofile").Should().BeTrue("a profile file of that name exists");
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    [Theory]
    [InlineData("", "p.jitprofile")]
    [InlineData("dir", "")]
    [InlineData("dir", "sub/p.jitprofile")]
    public void StartProfile_RejectsBadNames(string directory, string name)
    {
        var act = () => JitWarmup.StartProfile(directory, name);
        act.Should().Throw<ArgumentException>();
    }
}
