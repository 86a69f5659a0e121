#!/usr/bin/perl -w
# A VCL provisioning module written as a thin wrapper around anvil's HTTP API
# (/api/v1/vcl/, described at /api/v1/docs). Install it as
# managementnode/lib/VCL/Module/Provisioning/anvil.pm (package VCL::Module::Provisioning::anvil)
# and point VCL's provisioning table at it; outside VCL it runs as it is (see cycle.pl), taking
# the computer's name from new(computer => NAME) where VCL's data object would give it.
#
# Each subroutine returns what VCL's provisioning-module interface specifies (seed 003):
# 1 or 0, READY/RELOAD/POST_LOAD, an image name, a size in MB. Only Perl's core modules are used.
package Anvil;

use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP qw(decode_json encode_json);
use Time::HiRes qw(sleep);

# How long load and capture follow the machine (VCL's capture: 6 h at most).
our $WAIT_SECONDS = 6 * 60 * 60;
our $POLL_SECONDS = 2;

# new(url => 'http://anvil:8080', token => 'anvil_…', computer => 'node1')
sub new {
  my ($class, %args) = @_;
  die "Anvil->new needs url and token\n" unless $args{url} && $args{token};
  my $self = bless { %args }, $class;
  $self->{url} =~ s{/+$}{};
  $self->{http} = HTTP::Tiny->new(timeout => 120, default_headers => { Authorization => "Bearer $args{token}", Accept => 'application/json' });
  return $self;
}

# The computer this object provisions: VCL's data object when inside VCL, else new()'s.
sub computer {
  my ($self) = @_;
  return $self->data->get_computer_node_name() if $self->can('data');
  return $self->{computer};
}

sub _call {
  my ($self, $method, $path, $body) = @_;
  my %options = defined $body ? (content => encode_json($body), headers => { 'Content-Type' => 'application/json' }) : ();
  my $response = $self->{http}->request($method, "$self->{url}/api/v1$path", \%options);
  my $answer = eval { decode_json($response->{content} || '{}') } || {};
  unless ($response->{success}) {
    my $why = $answer->{error} ? "$answer->{error}{code}: $answer->{error}{message}" : "$response->{status} $response->{reason}";
    $self->{last_error} = $why;
    warn "anvil: $method $path: $why\n";
    return undef;
  }
  return $answer;
}

sub last_error { return $_[0]->{last_error} }

# node_status: a hash reference as the xCAT module returned it, status READY, RELOAD or POST_LOAD.
sub node_status {
  my ($self) = @_;
  my $answer = $self->_call('GET', '/vcl/node_status/' . $self->computer()) or return { status => 'RELOAD' };
  return $answer;
}

# Follows the machine until it is no longer deploying or capturing; its provision state then.
sub _wait {
  my ($self) = @_;
  my $deadline = time + $WAIT_SECONDS;
  while (time < $deadline) {
    my $view = $self->_call('GET', '/machines/' . $self->computer() . '/provision') or return undef;
    return $view unless $view->{provisionState} =~ /^(deploying|wait-callback|capturing|capture-wait)$/;
    sleep $POLL_SECONDS;
  }
  $self->{last_error} = "still provisioning after $WAIT_SECONDS s";
  return undef;
}

# load: puts the image on the computer's disk; 1 when it is active with it, else 0.
sub load {
  my ($self, $image) = @_;
  $image //= $self->data->get_image_name() if $self->can('data');
  $self->_call('POST', '/vcl/load', { machine => $self->computer(), image => $image }) or return 0;
  my $view = $self->_wait() or return 0;
  return 1 if $view->{provisionState} eq 'active' && ($view->{image} // '') eq $image;
  $self->{last_error} = $view->{error} // "ended $view->{provisionState}";
  return 0;
}

# capture: saves the computer's disk as a new image and waits for the whole capture; 1 or 0.
sub capture {
  my ($self, $image) = @_;
  $image //= $self->data->get_image_name() if $self->can('data');
  $self->_call('POST', '/vcl/capture', { machine => $self->computer(), image => $image }) or return 0;
  my $view = $self->_wait() or return 0;
  return 1 if $view->{provisionState} eq 'active' && ($view->{deployment}{state} // '') eq 'done';
  $self->{last_error} = $view->{error} // "ended $view->{provisionState}";
  return 0;
}

sub _power {
  my ($self, $verb) = @_;
  my $answer = $self->_call('POST', "/vcl/$verb", { machine => $self->computer() }) or return 0;
  return $answer->{result};
}

sub power_on    { return $_[0]->_power('power_on') }
sub power_off   { return $_[0]->_power('power_off') }
sub power_reset { return $_[0]->_power('power_reset') }

# get_current_image: the image named in currentimage.txt on the computer, or undef.
sub get_current_image {
  my ($self) = @_;
  my $answer = $self->_call('GET', '/vcl/get_current_image/' . $self->computer()) or return undef;
  return $answer->{currentimage};
}

# get_image_size: the image's disk usage in the library, in MB (0 when there is none).
sub get_image_size {
  my ($self, $image) = @_;
  $image //= $self->data->get_image_name() if $self->can('data');
  my $answer = $self->_call('GET', "/vcl/get_image_size/$image") or return 0;
  return $answer->{result};
}

1;
