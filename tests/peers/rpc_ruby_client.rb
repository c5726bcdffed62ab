# Another language's XML-RPC client (Ruby's xmlrpc gem, Debian's ruby-xmlrpc): calls
# netkit rpc serve as a Ruby program would, and prints one line per call.
#   ruby rpc_ruby_client.rb URL
require "xmlrpc/client"
require "json"

server = XMLRPC::Client.new2(ARGV[0])
puts "ls " + server.call("ls", ".").to_json
puts "add " + server.call("add", 3, 4).to_json
puts "df.total " + (server.call("df", ".")["total"] > 0).to_json
ok, result = server.call2("ls_boom", "../../etc")
puts "ls_boom " + ok.to_json + " " + result.faultCode.to_s + " " + result.faultString
methods = server.call("system.listMethods")
puts "methods " + methods.include?("ls_boom").to_json
multi = server.multicall(["add", 1, 2], ["nope"])
puts "multicall " + multi[0].to_json + " " + multi[1].faultCode.to_s
