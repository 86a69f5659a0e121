#!/usr/bin/perl -w
# Drives VCL's load → node_status → capture → load elsewhere → power_off → node_status cycle
# through Anvil.pm against a running anvil, printing one line per step as VCL's logs would.
#   ANVIL_URL=http://127.0.0.1:8080 ANVIL_TOKEN=anvil_… perl cycle.pl COMPUTER1 COMPUTER2 IMAGE_A IMAGE_B
# Between the first node_status and the capture it runs $ANVIL_BETWEEN (a shell command), if set:
# the test writes a file on COMPUTER1 over SSH there.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Anvil;

my ($first, $second, $image_a, $image_b) = @ARGV;
die "usage: cycle.pl COMPUTER1 COMPUTER2 IMAGE_A IMAGE_B\n" unless $image_b;
my %connection = (url => $ENV{ANVIL_URL}, token => $ENV{ANVIL_TOKEN});
my $one = Anvil->new(%connection, computer => $first);
my $two = Anvil->new(%connection, computer => $second);

# After a load the machine boots its disk: wait, as VCL's post_load waits for SSH, until
# node_status says READY (at most $ENV{ANVIL_READY_SECONDS}, default 300 s); its last answer.
sub ready_status {
  my ($computer) = @_;
  my $deadline = time + ($ENV{ANVIL_READY_SECONDS} || 300);
  my $status;
  while (1) {
    $status = $computer->node_status();
    return $status if $status->{status} eq 'READY' || time >= $deadline;
    sleep 2;
  }
}

sub say_status {
  my ($who, $status) = @_;
  my @fields = map { "$_=" . ($status->{$_} // '') } qw(status ping ssh rpower nodeset nodetype currentimage);
  print "node_status $who: @fields\n";
  print "  reason: $_\n" for @{ $status->{reasons} || [] };
}

print "load $first $image_a: ", $one->load($image_a), "\n";
say_status($first, ready_status($one));
print "get_current_image $first: ", $one->get_current_image() // '(none)', "\n";
system($ENV{ANVIL_BETWEEN}) == 0 or die "ANVIL_BETWEEN failed\n" if $ENV{ANVIL_BETWEEN};
print "capture $first $image_b: ", $one->capture($image_b), "\n";
print "get_image_size $image_b: ", $one->get_image_size($image_b), "\n";
print "load $second $image_b: ", $two->load($image_b), "\n";
say_status($second, ready_status($two));
print "power_off $first: ", $one->power_off(), "\n";
say_status($first, $one->node_status());
