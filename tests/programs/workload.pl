# Perl workload: hashes, regexes, sorts, string building. Deterministic output (keys are sorted).
use strict;
use warnings;

my $seed = 12345;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return int($seed / 65536); }

my @words = map { my $n = 1 + rnd() % 10; join '', map { chr(97 + rnd() % 16) } 1 .. $n } 1 .. 50000;

# hash of counts, hash of arrays
my (%count, %by_len);
for my $w (@words) {
    $count{$w}++;
    push @{ $by_len{ length $w } }, $w;
}
printf "distinct %d\n", scalar keys %count;
my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 4];
print "top @top\n";
printf "len %d: %d\n", $_, scalar @{ $by_len{$_} } for sort { $a <=> $b } keys %by_len;

# regexes: match, capture, substitute
my $text = join ' ', @words;
my $vowelish = () = $text =~ /\b[aeio]\w*/g;
print "vowelish $vowelish\n";
(my $swapped = $text) =~ s/(\w)(\w)/$2$1/g;
printf "swapped.len %d\n", length $swapped;
my %pairs;
while ($text =~ /\b(\w)\w*(\w)\b/g) { $pairs{"$1$2"}++ }
printf "pairs %d\n", scalar keys %pairs;

# sort numbers and records
my @nums = map { (rnd() * 32768 + rnd()) % 1000000 } 1 .. 200000;
my @sorted = sort { $a <=> $b } @nums;
print "min $sorted[0] max $sorted[-1] median $sorted[100000]\n";
my @records = sort { $a->{k} cmp $b->{k} || $a->{v} <=> $b->{v} }
              map { { k => $words[$_ % @words], v => $nums[$_] } } 0 .. 99999;
print "first $records[0]{k} $records[0]{v} last $records[-1]{k} $records[-1]{v}\n";

# string building and splitting
my $csv = join "\n", map { join ',', $_, $words[$_], $nums[$_] } 0 .. 29999;
my $sum = 0;
for my $line (split /\n/, $csv) { my @f = split /,/, $line; $sum += $f[2]; }
print "csv.sum $sum\n";
my $digest = 0;
$digest = ($digest * 31 + ord) % 1000000007 for split //, substr($swapped, 0, 200000);
print "digest $digest\n";
